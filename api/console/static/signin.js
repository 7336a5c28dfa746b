import { T, LANG, api, signIn } from "./common.js";

const form = document.getElementById("signin-form");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const key = form.elements.key.value.trim();
  signIn(key);
  try {
    await api("/v1/calls?limit=1");
    const next = new URLSearchParams(location.search).get("next");
    location.href = next && next.startsWith("/console/") ? next : `/console/calls?lang=${LANG}`;
  } catch (error) {
    sessionStorage.clear();
    document.getElementById("signin-error").textContent = `${T.error}: ${error.message}`;
  }
});

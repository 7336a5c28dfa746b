import { T, LANG, api, signIn } from "./common.js";

const form = document.getElementById("signin-form");
const message = document.getElementById("signin-error");
const params = new URLSearchParams(location.search);

// Why a key was refused, in the interface's words: a wrong key and a revoked one ask for
// different actions.
function refusal(error) {
  if (error.status === 401) return error.kind === "key-revoked" ? T.signin_revoked_key : T.signin_wrong_key;
  return error.message;
}

// Sent here because the key stopped working (revoked meanwhile): say so.
const reason = params.get("reason");
if (reason === "key-revoked") message.textContent = T.signin_revoked_key;
else if (reason === "key-invalid") message.textContent = T.signin_wrong_key;

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  message.textContent = "";
  const key = form.elements.key.value.trim();
  signIn(key);
  try {
    await api("/v1/me", { signingIn: true });
  } catch (error) {
    sessionStorage.clear();
    message.textContent = refusal(error);
    form.elements.key.focus();
    return;
  }
  const next = params.get("next");
  const safe = next && next.startsWith("/console/") && !next.startsWith("/console/signin");
  location.href = safe ? next : `/console/calls?lang=${LANG}`;
});

import { T, LANG, apiKey, el, requireKey } from "./common.js";

await requireKey();
const form = document.getElementById("upload-form");
const drop = document.getElementById("drop");
const input = document.getElementById("files");
const list = document.getElementById("uploads");
let chosen = [];

function choose(files) {
  chosen = [...chosen, ...files];
  document.getElementById("drop-help").textContent = chosen.map((f) => f.name).join(", ") || T.drop_here;
}

drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => { event.preventDefault(); drop.classList.remove("over"); choose(event.dataTransfer.files); });
input.addEventListener("change", () => choose(input.files));

// One XMLHttpRequest per file: fetch() cannot report upload progress.
function send(file, fields) {
  const progress = el("progress", { max: 100, value: 0, "aria-label": file.name });
  const state = el("span", { class: "state" }, "0%");
  const item = el("li", {}, el("span", { class: "name" }, file.name), progress, state);
  list.append(item);
  const data = new FormData();
  for (const [name, value] of Object.entries(fields)) if (value) data.append(name, value);
  data.append("audio", file, file.name);
  const request = new XMLHttpRequest();
  request.open("POST", "/v1/calls");
  request.setRequestHeader("Authorization", `Bearer ${apiKey()}`);
  request.upload.addEventListener("progress", (event) => {
    if (event.lengthComputable) {
      progress.value = Math.round((100 * event.loaded) / event.total);
      state.textContent = `${progress.value}%`;
    }
  });
  request.addEventListener("load", () => {
    let answer = {};
    try { answer = JSON.parse(request.responseText); } catch { /* not JSON */ }
    if (request.status === 200 || request.status === 202) {
      progress.value = 100;
      state.replaceChildren(el("a", { href: `/console/calls/${answer.id}?lang=${LANG}` }, T[answer.status] || answer.status));
      item.classList.add("ok");
    } else {
      state.textContent = `${T.rejected}: ${answer.detail || request.status}`;
      item.classList.add("rejected");
      item.setAttribute("role", "alert");
    }
  });
  request.addEventListener("error", () => { state.textContent = `${T.error}`; item.classList.add("rejected"); });
  request.send(data);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!form.reportValidity()) return;
  const fields = Object.fromEntries(new FormData(form));
  for (const file of chosen) send(file, fields);
  chosen = [];
  input.value = "";
  document.getElementById("drop-help").textContent = T.drop_here;
});

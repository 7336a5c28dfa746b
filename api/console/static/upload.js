import { T, LANG, api, apiKey, el, errorOf, requireKey, toast, zoneNote } from "./common.js";

await requireKey();
const form = document.getElementById("upload-form");
const drop = document.getElementById("drop");
const input = document.getElementById("files");
const list = document.getElementById("uploads");
const dealer = document.getElementById("dealer");
const POLL_MS = 1500;
let chosen = [];

// The dealers this key may upload for, by name; the only one preselected.
async function loadDealers() {
  const me = await api("/v1/me");
  dealer.append(...me.dealers.map((d) => el("option", { value: d.id }, d.name === d.id ? d.id : `${d.name} (${d.id})`)));
  if (me.dealers.length === 1) dealer.value = me.dealers[0].id;
}

function choose(files) {
  chosen = [...chosen, ...files];
  document.getElementById("drop-help").textContent = chosen.map((f) => f.name).join(", ") || T.drop_here;
}

drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => { event.preventDefault(); drop.classList.remove("over"); choose(event.dataTransfer.files); });
input.addEventListener("change", () => choose(input.files));

// The row of an accepted upload follows its call until the analysis is done or failed.
async function follow(callId, state, item) {
  const call = await api(`/v1/calls/${callId}`);
  state.replaceChildren(el("a", { href: `/console/calls/${callId}?lang=${LANG}` }, T[call.status] || call.status));
  item.dataset.status = call.status;
  if (call.status === "failed") {
    item.classList.add("rejected");
  } else if (call.status !== "done") {
    setTimeout(() => follow(callId, state, item).catch((e) => toast(e.message, true)), POLL_MS);
  }
}

// One XMLHttpRequest per file: fetch() cannot report upload progress.
function send(file, fields) {
  const progress = el("progress", { max: 100, value: 0, "aria-label": file.name });
  const state = el("span", { class: "state" }, T.uploading);
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
      state.textContent = `${T.uploading} ${progress.value}%`;
    }
  });
  request.addEventListener("load", () => {
    let answer = {};
    try { answer = JSON.parse(request.responseText); } catch { /* not JSON */ }
    if (request.status === 200 || request.status === 202) {
      progress.value = 100;
      item.classList.add("ok");
      follow(answer.id, state, item).catch((e) => toast(e.message, true));
    } else {
      state.textContent = `${T.rejected}: ${errorOf(request.status, answer).message}`;
      item.classList.add("rejected");
      item.setAttribute("role", "alert");
    }
  });
  request.addEventListener("error", () => {
    state.textContent = `${T.rejected}: ${errorOf(0, {}).message}`;
    item.classList.add("rejected");
  });
  request.send(data);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!form.reportValidity()) return;
  const fields = Object.fromEntries(new FormData(form));
  // A datetime-local is the browser's wall time: the API gets the instant, with its offset.
  if (fields.recorded_at) fields.recorded_at = new Date(fields.recorded_at).toISOString();
  for (const file of chosen) send(file, fields);
  chosen = [];
  input.value = "";
  document.getElementById("drop-help").textContent = T.drop_here;
});

document.getElementById("zone-note").textContent = zoneNote();
loadDealers().catch((e) => toast(e.message, true));

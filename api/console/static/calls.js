import { T, LANG, api, clock, el, requireKey, toast } from "./common.js";

await requireKey();
const form = document.getElementById("filters");
const body = document.querySelector("#calls-table tbody");
const LIMIT = 50;
let offset = 0;
let total = 0;

function query(extra = {}) {
  const params = new URLSearchParams();
  for (const [name, value] of new FormData(form)) if (value) params.set(name, value);
  for (const [name, value] of Object.entries(extra)) params.set(name, value);
  return params;
}

async function load() {
  const page = await api(`/v1/calls?${query({ limit: LIMIT, offset })}`);
  total = page.total;
  body.replaceChildren(...page.items.map((call) => el("tr", {},
    el("td", {}, el("a", { href: `/console/calls/${call.id}?lang=${LANG}` },
      (call.recorded_at || call.created_at).slice(0, 16).replace("T", " "))),
    el("td", {}, call.dealer),
    el("td", {}, call.salesperson_id || ""),
    el("td", {}, call.customer_id || ""),
    el("td", {}, call.scenario),
    el("td", {}, call.duration_s == null ? "" : clock(call.duration_s)),
    el("td", { class: `status ${call.status}` }, T[call.status] || call.status),
  )));
  document.getElementById("empty").hidden = page.items.length > 0;
  document.getElementById("page-info").textContent = total ? `${offset + 1}–${offset + page.items.length} / ${total}` : "";
  document.getElementById("prev").disabled = offset === 0;
  document.getElementById("next").disabled = offset + LIMIT >= total;
}

function csvCell(value) {
  const text = value == null ? "" : String(value);
  return /[",\n\r]/.test(text) || /^[=+\-@]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

async function exportCsv() {
  const rows = [["id", "recorded_at", "dealer", "salesperson_id", "customer_id", "scenario", "duration_s", "status"]];
  for (let start = 0; ; start += 200) {
    const page = await api(`/v1/calls?${query({ limit: 200, offset: start })}`);
    for (const c of page.items) {
      rows.push([c.id, c.recorded_at || c.created_at, c.dealer, c.salesperson_id, c.customer_id, c.scenario, c.duration_s, c.status]);
    }
    if (start + 200 >= page.total) break;
  }
  // A leading quote neutralises spreadsheet formulas (CSV injection) in user-supplied fields.
  const text = rows.map((r) => r.map((v) => csvCell(/^[=+\-@]/.test(String(v ?? "")) ? `'${v}` : v)).join(",")).join("\r\n");
  const link = el("a", { href: URL.createObjectURL(new Blob(["\ufeff" + text], { type: "text/csv" })), download: "calls.csv" });
  link.click();
}

form.addEventListener("submit", (event) => { event.preventDefault(); offset = 0; load().catch((e) => toast(e.message, true)); });
document.getElementById("prev").addEventListener("click", () => { offset = Math.max(0, offset - LIMIT); load(); });
document.getElementById("next").addEventListener("click", () => { offset += LIMIT; load(); });
document.getElementById("export").addEventListener("click", () => exportCsv().catch((e) => toast(e.message, true)));
load().catch((e) => toast(e.message, true));

import { T, fillFromAddress, LANG, TIME_ZONE, api, clock, el, localTime, requireKey, toast, zoneNote } from "./common.js";

await requireKey();
const form = document.getElementById("filters");
const body = document.querySelector("#calls-table tbody");
const LABELS = JSON.parse(document.getElementById("labels").textContent);
const LIMIT = 50;
let offset = 0;
let total = 0;

// The filters live in the page's address, so a filtered list can be shared, reloaded, or
// opened from the team view ("the calls behind this number").
function query(extra = {}) {
  const params = new URLSearchParams();
  for (const [name, value] of new FormData(form)) if (value) params.set(name, value);
  if (params.has("since") || params.has("until")) params.set("tz", new URLSearchParams(location.search).get("tz") || TIME_ZONE);
  for (const [name, value] of Object.entries(extra)) params.set(name, value);
  return params;
}

function remember() {
  const params = query(offset ? { offset } : {});
  params.set("lang", LANG);
  history.replaceState(null, "", `${location.pathname}?${params}`);
}

function names(keys, labels) {
  return keys.map((key) => labels[key] || key).join("、");
}

async function load() {
  const page = await api(`/v1/calls?${query({ limit: LIMIT, offset })}`);
  total = page.total;
  body.replaceChildren(...page.items.map((call) => el("tr", {},
    el("td", {}, el("a", { href: `/console/calls/${call.id}?lang=${LANG}` },
      localTime(call.recorded_at || call.created_at))),
    el("td", {}, call.dealer),
    el("td", {}, call.salesperson_id || ""),
    el("td", {}, call.customer_id || ""),
    el("td", {}, T[`scenario_${call.scenario}`] || call.scenario),
    el("td", {}, call.duration_s == null ? "" : clock(call.duration_s)),
    el("td", { class: "grade-cell" }, call.grade || ""),
    el("td", {}, call.score == null ? "" : String(Math.round(call.score)),
      call.reviewed_at ? el("span", { class: "badge", title: T.reviewed }, "✓") : null),
    el("td", {}, names(call.missed, LABELS.checkpoints)),
    el("td", { class: call.violations.length ? "error" : "" }, names(call.violations, LABELS.violations)),
    el("td", { class: `status ${call.status}` }, T[call.status] || call.status),
  )));
  document.getElementById("empty").hidden = page.items.length > 0;
  document.getElementById("page-info").textContent = total ? `${offset + 1}–${offset + page.items.length} / ${total}` : "";
  document.getElementById("prev").disabled = offset === 0;
  document.getElementById("next").disabled = offset + LIMIT >= total;
  remember();
}

function csvCell(value) {
  let text = value == null ? "" : String(value);
  // A leading quote neutralises spreadsheet formulas (CSV injection) in user-supplied fields.
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

async function exportCsv() {
  const rows = [["id", "recorded_at", "dealer", "salesperson_id", "customer_id", "scenario", "duration_s", "status",
    "grade", "score", "missed", "violations", "reviewed_at"]];
  for (let start = 0; ; start += 200) {
    const page = await api(`/v1/calls?${query({ limit: 200, offset: start })}`);
    for (const c of page.items) {
      rows.push([c.id, c.recorded_at || c.created_at, c.dealer, c.salesperson_id, c.customer_id, c.scenario,
        c.duration_s, c.status, c.grade, c.score, c.missed.join(";"), c.violations.join(";"), c.reviewed_at]);
    }
    if (start + 200 >= page.total) break;
  }
  const text = rows.map((r) => r.map(csvCell).join(",")).join("\r\n");
  const link = el("a", { href: URL.createObjectURL(new Blob(["\ufeff" + text], { type: "text/csv" })), download: "calls.csv" });
  link.click();
}

const reload = () => load().catch((e) => toast(e.message, true));
form.addEventListener("submit", (event) => { event.preventDefault(); offset = 0; reload(); });
form.addEventListener("reset", () => { offset = 0; setTimeout(reload); });
document.getElementById("prev").addEventListener("click", () => { offset = Math.max(0, offset - LIMIT); reload(); });
document.getElementById("next").addEventListener("click", () => { offset += LIMIT; reload(); });
document.getElementById("export").addEventListener("click", () => exportCsv().catch((e) => toast(e.message, true)));
document.getElementById("zone-note").textContent = zoneNote();
offset = fillFromAddress(form);
reload();

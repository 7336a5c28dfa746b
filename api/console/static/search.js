import { T, fillFromAddress, LANG, TIME_ZONE, api, clock, el, format, localTime, requireKey, toast } from "./common.js";

await requireKey();
const form = document.getElementById("search-form");
const hits = document.getElementById("hits");
const LIMIT = 20;
let offset = 0;

// The query and filters live in the page's address: a search can be shared, reloaded, or
// opened from the calls list's search box.
function query(extra = {}) {
  const params = new URLSearchParams();
  for (const [name, value] of new FormData(form)) if (value) params.set(name, value);
  if (params.has("since") || params.has("until")) params.set("tz", TIME_ZONE);
  for (const [name, value] of Object.entries(extra)) params.set(name, value);
  return params;
}

// The snippet with its matches in <mark>, built as text nodes (the words are never HTML).
function marked(snippet, highlights) {
  const parts = [];
  let at = 0;
  for (const [start, end] of highlights) {
    if (start > at) parts.push(snippet.slice(at, start));
    parts.push(el("mark", {}, snippet.slice(start, end)));
    at = end;
  }
  parts.push(snippet.slice(at));
  return parts;
}

function hit(item) {
  const href = `${item.link}&lang=${LANG}`;
  return el("li", { class: `hit ${item.role || ""}` },
    el("a", { href, class: "snippet" }, marked(item.snippet, item.highlights)),
    el("p", { class: "meta" },
      el("a", { href }, `${T.at_time} ${clock(item.start)}`), " · ",
      item.role ? (item.role === "sales" ? T.sales : T.customer_role) : "", " · ",
      `${localTime(item.called_at)} (${TIME_ZONE})`, " · ", item.dealer, " · ",
      T[`scenario_${item.scenario}`] || item.scenario,
      item.grade ? ` · ${T.grade} ${item.grade}` : ""));
}

async function load() {
  const q = form.elements.q.value.trim();
  history.replaceState(null, "", `${location.pathname}?${query({ lang: LANG, ...(offset ? { offset } : {}) })}`);
  if (!q) return;
  let page;
  try {
    page = await api(`/v1/search?${query({ limit: LIMIT, offset })}`);
  } catch (error) {
    if (error.status === 422) { toast(T.search_invalid, true); return; }
    throw error;
  }
  hits.replaceChildren(...page.items.map(hit));
  document.getElementById("no-hits").hidden = page.items.length > 0;
  document.getElementById("search-total").textContent = page.total
    ? format(T.search_total, { total: page.total, from: offset + 1, to: offset + page.items.length })
    : "";
  document.getElementById("prev").disabled = offset === 0;
  document.getElementById("next").disabled = offset + LIMIT >= page.total;
}

const reload = () => load().catch((e) => toast(e.message, true));
form.addEventListener("submit", (event) => { event.preventDefault(); offset = 0; reload(); });
document.getElementById("prev").addEventListener("click", () => { offset = Math.max(0, offset - LIMIT); reload(); });
document.getElementById("next").addEventListener("click", () => { offset += LIMIT; reload(); });
offset = fillFromAddress(form);
document.getElementById("prev").disabled = true;
document.getElementById("next").disabled = true;
reload();

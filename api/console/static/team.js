import { T, LANG, TIME_ZONE, api, el, nameOf, requireKey, toast } from "./common.js";

await requireKey();
const form = document.getElementById("team-filters");
const COLOURS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"];
const SVG = "http://www.w3.org/2000/svg";
let rates = null;

function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  node.append(...children);
  return node;
}

function percent(rate) {
  return rate == null ? "–" : `${Math.round(rate * 100)}%`;
}

function day(date, offsetDays = 0) {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + offsetDays);
  return d.toISOString().slice(0, 10);
}

// The days of period i, clipped to the range asked for.
function periodRange(i) {
  const since = i === 0 ? rates.since : rates.periods[i];
  const until = i + 1 < rates.periods.length ? day(rates.periods[i + 1], -1) : rates.until;
  return { since: since < rates.since ? rates.since : since, until };
}

// A link to the calls list showing the calls behind a number.
function callsLink(filters) {
  const params = new URLSearchParams({ lang: LANG, tz: rates.tz, since: rates.since, until: rates.until, status: "done" });
  const asked = new FormData(form);
  for (const name of ["dealer", "scenario"]) if (asked.get(name)) params.set(name, asked.get(name));
  for (const [name, value] of Object.entries(filters)) params.set(name, value);
  return `/console/calls?${params}`;
}

function sparkline(series, label) {
  const w = 120, h = 28, n = series.length;
  const points = series.map((p, i) => (p.rate == null ? null : [n === 1 ? w / 2 : (i / (n - 1)) * w, h - p.rate * h]));
  const path = points.reduce((d, p, i) => (p ? `${d}${d && points[i - 1] ? "L" : "M"}${p[0].toFixed(1)},${p[1].toFixed(1)}` : d), "");
  return svg("svg", { viewBox: `-2 -2 ${w + 4} ${h + 4}`, class: "spark", role: "img",
    "aria-label": `${label}: ${series.map((p) => `${p.period} ${percent(p.rate)}`).join(", ")}` },
  svg("path", { d: path, fill: "none", stroke: "currentColor", "stroke-width": 1.5 }));
}

function chart() {
  const by = document.getElementById("chart-by").value;
  const rows = (by === "salespeople" ? rates.salespeople : rates.checkpoints).slice(0, COLOURS.length);
  const lines = [{ name: T.overall, colour: "#0f172a", series: rates.overall.series, filters: {} },
    ...rows.map((row, i) => ({
      name: by === "salespeople" ? row.salesperson_id : nameOf("checkpoint", row.checkpoint, row.label),
      colour: COLOURS[i],
      series: row.series,
      filters: by === "salespeople" ? { salesperson_id: row.salesperson_id } : { missed: row.checkpoint },
    }))];
  const W = 720, H = 220, L = 40, B = 24, n = rates.periods.length;
  const x = (i) => L + 16 + (n === 1 ? (W - L - 48) / 2 : (i / (n - 1)) * (W - L - 48));
  const y = (rate) => 8 + (1 - rate) * (H - B - 8);
  const grid = [0, 0.25, 0.5, 0.75, 1].map((r) => svg("g", {},
    svg("line", { x1: L, x2: W, y1: y(r), y2: y(r), class: "grid" }),
    svg("text", { x: L - 6, y: y(r) + 4, "text-anchor": "end" }, percent(r))));
  const step = Math.max(1, Math.ceil(n / 8));
  const ticks = rates.periods.map((p, i) => (i % step ? null : svg("text", { x: x(i), y: H - 6, "text-anchor": "middle" }, p.slice(5))))
    .filter(Boolean);
  const drawn = lines.map((line) => {
    const pts = line.series.map((p, i) => (p.rate == null ? null : [x(i), y(p.rate), i, p]));
    const d = pts.reduce((acc, p, i) => (p ? `${acc}${acc && pts[i - 1] ? "L" : "M"}${p[0]},${p[1]}` : acc), "");
    return svg("g", { class: "line", stroke: line.colour, fill: line.colour },
      svg("path", { d, fill: "none", "stroke-width": line.filters.salesperson_id || line.filters.missed ? 2 : 3 }),
      ...pts.filter(Boolean).map(([px, py, i, p]) => {
        const label = `${line.name} ${p.period}: ${percent(p.rate)} (${p.passed}/${p.applicable})`;
        const link = svg("a", { href: callsLink({ ...line.filters, ...periodRange(i) }), "aria-label": label },
          svg("circle", { cx: px, cy: py, r: 4 }), svg("title", {}, label));
        return link;
      }));
  });
  const box = document.getElementById("chart");
  box.replaceChildren(svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "group", "aria-label": T.pass_rate_over_time },
    ...grid, ...ticks, ...drawn));
  document.getElementById("legend").replaceChildren(...lines.map((line) =>
    el("li", {}, el("span", { class: "swatch", style: `background:${line.colour}` }), line.name)));
}

function render() {
  const empty = rates.overall.applicable === 0;
  document.getElementById("empty").hidden = !empty;
  chart();
  document.querySelector("#people tbody").replaceChildren(...rates.salespeople.map((p) => el("tr", {},
    el("th", { scope: "row" }, p.salesperson_id),
    el("td", {}, el("a", { href: callsLink({ salesperson_id: p.salesperson_id }) }, `${percent(p.rate)} (${p.passed}/${p.applicable})`)),
    el("td", {}, String(p.calls)),
    el("td", {}, p.score == null ? "" : String(p.score)),
    el("td", {}, sparkline(p.series, p.salesperson_id)))));
  document.querySelector("#checkpoint-rates tbody").replaceChildren(...rates.checkpoints.map((c) => el("tr", {},
    el("th", { scope: "row" }, nameOf("checkpoint", c.checkpoint, c.label)),
    el("td", {}, el("a", { href: callsLink({ passed: c.checkpoint }) }, `${percent(c.rate)} (${c.passed}/${c.applicable})`)),
    el("td", {}, el("a", { href: callsLink({ missed: c.checkpoint }) }, String(c.applicable - c.passed))),
    el("td", {}, sparkline(c.series, nameOf("checkpoint", c.checkpoint, c.label))))));
  const cells = new Map(rates.cells.map((c) => [`${c.salesperson_id}\u0000${c.checkpoint}`, c]));
  const matrix = document.getElementById("matrix");
  matrix.tHead.replaceChildren(el("tr", {}, el("th", { scope: "col" }, T.salesperson),
    ...rates.checkpoints.map((c) => el("th", { scope: "col" }, nameOf("checkpoint", c.checkpoint, c.label)))));
  matrix.tBodies[0].replaceChildren(...rates.salespeople.map((p) => el("tr", {},
    el("th", { scope: "row" }, p.salesperson_id),
    ...rates.checkpoints.map((c) => {
      const cell = cells.get(`${p.salesperson_id}\u0000${c.checkpoint}`);
      if (!cell) return el("td", {}, "");
      const missed = cell.applicable - cell.passed;
      const tone = cell.rate >= 0.8 ? "good" : cell.rate >= 0.5 ? "fair" : "poor";
      return el("td", { class: `rate ${tone}` }, el("a", {
        href: callsLink({ salesperson_id: p.salesperson_id, missed: c.checkpoint }),
        "aria-label": `${p.salesperson_id} · ${nameOf("checkpoint", c.checkpoint, c.label)}: ${percent(cell.rate)}, ${T.missed} ${missed}`,
      }, `${percent(cell.rate)}`));
    }))));
}

async function load() {
  const params = new URLSearchParams({ tz: TIME_ZONE });
  for (const [name, value] of new FormData(form)) if (value) params.set(name, value);
  rates = await api(`/v1/team/pass-rates?${params}`);
  form.elements.since.value = rates.since;
  form.elements.until.value = rates.until;
  params.set("lang", LANG);
  history.replaceState(null, "", `${location.pathname}?${params}`);
  render();
}

const search = new URLSearchParams(location.search);
for (const field of form.elements) if (field.name && search.has(field.name)) field.value = search.get(field.name);
form.addEventListener("submit", (event) => { event.preventDefault(); load().catch((e) => toast(e.message, true)); });
document.getElementById("chart-by").addEventListener("change", () => rates && chart());
load().catch((e) => toast(e.message, true));

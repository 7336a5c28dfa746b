// Shared by every console page: the API key, the interface text, calls to the REST API.
export const T = JSON.parse(document.getElementById("i18n").textContent);
export const LANG = document.body.dataset.lang;
const KEY = "callintelKey";

export function apiKey() {
  return sessionStorage.getItem(KEY);
}

export function signIn(key) {
  sessionStorage.setItem(KEY, key);
}

// Without a key, go to the sign-in page (which remembers this page as `next`, once: never a
// sign-in page inside another's `next`); the returned promise then never settles, so a page
// module that awaits it stops quietly while the browser navigates away.
export function requireKey(reason = "") {
  if (apiKey()) return Promise.resolve();
  const params = new URLSearchParams({ lang: LANG });
  if (!location.pathname.startsWith("/console/signin")) params.set("next", location.pathname + location.search);
  if (reason) params.set("reason", reason);
  location.href = `/console/signin?${params}`;
  return new Promise(() => {});
}

// An API error: its HTTP status, its problem type's name (`/problems/<kind>`, "" when none),
// the server's English detail, and as `message` the interface's own words for it.
export class ApiError extends Error {
  constructor(status, kind = "", detail = "") {
    super(problemText(status, kind));
    this.status = status;
    this.kind = kind;
    this.detail = detail;
  }
}

const STATUS_KINDS = { 401: "key_invalid", 403: "forbidden", 404: "not_found", 409: "conflict", 413: "too_large",
  415: "not_audio", 422: "validation", 429: "rate_limited" };

// The interface's message for a problem: by its type, else by its status (never the server's
// English detail inside the Chinese interface).
export function problemText(status, kind = "") {
  const known = T[`problem_${kind.replace(/-/g, "_")}`];
  if (kind && known) return known;
  if (status === 0) return T.problem_network;
  if (status >= 500) return T.problem_server;
  return T[`problem_${STATUS_KINDS[status]}`] || format(T.problem_unknown, { status });
}

// A problem+json answer as an ApiError.
export async function problemOf(response) {
  let body = {};
  try { body = await response.json(); } catch { /* not JSON */ }
  return errorOf(response.status, body);
}

export function errorOf(status, body) {
  const type = typeof body?.type === "string" ? body.type : "";
  const kind = type.startsWith("/problems/") ? type.slice("/problems/".length) : "";
  return new ApiError(status, kind, typeof body?.detail === "string" ? body.detail : "");
}

// fetch() on the REST API with the key; JSON in and out; problem+json errors become ApiError.
// A 401 signs out and goes to the sign-in page, saying why; `signingIn` returns it instead.
export async function api(path, options = {}) {
  const headers = new Headers(options.headers || {});
  headers.set("Authorization", `Bearer ${apiKey()}`);
  if (options.json !== undefined) {
    headers.set("Content-Type", "application/json");
    options = { ...options, body: JSON.stringify(options.json) };
  }
  let response;
  try {
    response = await fetch(path, { ...options, headers });
  } catch {
    throw new ApiError(0, "network");
  }
  if (!response.ok) {
    const error = await problemOf(response);
    if (response.status === 401 && !options.signingIn) {
      sessionStorage.removeItem(KEY);
      await requireKey(error.kind);
    }
    throw error;
  }
  if (options.raw) return response;
  return response.status === 204 ? null : response.json();
}

// "{name}" placeholders of an interface text.
export function format(text, values) {
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

// The time zone times are shown in: the browser's; where it gives none, the dealers' own
// (Asia/Shanghai) for the Chinese interface, UTC for the English one.
export const TIME_ZONE = (() => {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return zone && zone !== "Etc/Unknown" ? zone : LANG === "zh" ? "Asia/Shanghai" : "UTC";
})();

const TIME_FORMAT = new Intl.DateTimeFormat("en-CA", {
  timeZone: TIME_ZONE, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  hourCycle: "h23",
});

// An API time (ISO 8601, UTC) as "YYYY-MM-DD HH:MM" in TIME_ZONE.
export function localTime(iso) {
  if (!iso) return "";
  const date = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`);
  if (Number.isNaN(date.getTime())) return iso;
  const part = Object.fromEntries(TIME_FORMAT.formatToParts(date).map((p) => [p.type, p.value]));
  return `${part.year}-${part.month}-${part.day} ${part.hour}:${part.minute}`;
}

// What the page says about its times: "Times in Asia/Shanghai".
export function zoneNote() {
  return format(T.times_in, { zone: TIME_ZONE });
}

// A checkpoint's or violation's name (kind "checkpoint" or "violation") in the interface's
// language: in Chinese the scorecard's label, in English DOMAIN.md's name (a dealer's own
// checkpoint has only its label).
export function nameOf(kind, key, label = "") {
  const known = T[`${kind}_${key}`];
  return (LANG === "zh" ? label || known : known || label) || key;
}

// At most `max` characters of `text`, cut between words (English) or characters (Chinese), with "…".
export function snippet(text, max = 40) {
  const value = String(text || "").trim();
  if (value.length <= max) return value;
  const words = [...new Intl.Segmenter(LANG === "zh" ? "zh" : "en", { granularity: "word" }).segment(value)];
  let out = "";
  for (const { segment } of words) {
    if ((out + segment).length > max) break;
    out += segment;
  }
  // One long word: cut it between characters (whole graphemes), never in a surrogate pair.
  if (!out.trim()) {
    out = "";
    for (const { segment } of new Intl.Segmenter(undefined, { granularity: "grapheme" }).segment(value)) {
      if ((out + segment).length > max) break;
      out += segment;
    }
  }
  return `${out.replace(/[\s,.;:!?，。；：！？、]+$/u, "")}…`;
}

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "class") node.className = value;
    // Through the CSSOM: a style attribute would be refused by the pages' CSP (no inline styles).
    else if (name === "style") node.style.cssText = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export function toast(message, error = false) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.className = error ? "show error" : "show";
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.className = ""; }, 4000);
}

// Header controls present on every page.
document.getElementById("lang-switch")?.addEventListener("change", (event) => {
  const url = new URL(location.href);
  url.searchParams.set("lang", event.target.value);
  location.href = url.toString();
});
document.getElementById("sign-out")?.addEventListener("click", () => {
  sessionStorage.removeItem(KEY);
  location.href = `/console/signin?lang=${LANG}`;
});

// A list page's filters live in its address, so a view can be shared, reloaded or opened from
// another page: fill ``form`` from the address and give the paging offset it holds.
export function fillFromAddress(form) {
  const params = new URLSearchParams(location.search);
  for (const field of form.elements) {
    if (field.name && params.has(field.name)) field.value = params.get(field.name);
  }
  return Math.max(0, Number(params.get("offset")) || 0);
}

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

// Without a key, go to the sign-in page; the returned promise then never settles, so a page
// module that awaits it stops quietly while the browser navigates away.
export function requireKey() {
  if (apiKey()) return Promise.resolve();
  location.href = `/console/signin?lang=${LANG}&next=${encodeURIComponent(location.pathname + location.search)}`;
  return new Promise(() => {});
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
  }
}

// fetch() on the REST API with the key; JSON in and out; problem+json errors become ApiError.
export async function api(path, options = {}) {
  const headers = new Headers(options.headers || {});
  headers.set("Authorization", `Bearer ${apiKey()}`);
  if (options.json !== undefined) {
    headers.set("Content-Type", "application/json");
    options = { ...options, body: JSON.stringify(options.json) };
  }
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401) {
    sessionStorage.removeItem(KEY);
    await requireKey();
  }
  if (!response.ok) {
    let detail = "";
    try { detail = (await response.json()).detail; } catch { /* not JSON */ }
    throw new ApiError(response.status, detail);
  }
  if (options.raw) return response;
  return response.status === 204 ? null : response.json();
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

import { T, LANG, api, clock, el, requireKey, toast } from "./common.js";

await requireKey();
const callId = document.getElementById("call").dataset.callId;
const audio = document.getElementById("audio");
const canvas = document.getElementById("waveform");
const transcript = document.getElementById("transcript");
let call = null;
let review = null;
let peaks = null;
let selectedCheckpoint = null;

async function load() {
  call = await api(`/v1/calls/${callId}`);
  review = call.review;
  document.getElementById("call-meta").textContent = [call.dealer, call.scenario, call.salesperson_id,
    call.customer_id, T[call.status] || call.status].filter(Boolean).join(" · ");
  const waiting = call.status === "queued" || call.status === "processing";
  document.getElementById("waiting").hidden = !waiting;
  if (waiting) {
    setTimeout(() => load().catch((e) => toast(e.message, true)), 2000);
  }
  if (!audio.src) loadAudio().catch((e) => toast(e.message, true));
  if (call.status === "done") render();
}

async function loadAudio() {
  const response = await api(`/v1/calls/${callId}/audio`, { raw: true });
  const bytes = await response.arrayBuffer();
  audio.src = URL.createObjectURL(new Blob([bytes], { type: response.headers.get("Content-Type") || "audio/wav" }));
  try {
    const decoded = await new AudioContext().decodeAudioData(bytes.slice(0));
    peaks = waveform(decoded, canvas.width);
  } catch {
    peaks = null; // a format the browser cannot decode: the player still works without the waveform
  }
  draw();
}

function waveform(buffer, width) {
  const data = buffer.getChannelData(0);
  const step = Math.max(1, Math.floor(data.length / width));
  const out = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    let peak = 0;
    for (let i = x * step; i < Math.min(data.length, (x + 1) * step); i++) peak = Math.max(peak, Math.abs(data[i]));
    out[x] = peak;
  }
  return out;
}

function draw() {
  const g = canvas.getContext("2d");
  const { width, height } = canvas;
  g.clearRect(0, 0, width, height);
  const duration = audio.duration || call?.duration_s || 1;
  for (const turn of turns()) {
    g.fillStyle = turn.role === "sales" ? "rgba(37,99,235,0.12)" : "rgba(22,163,74,0.12)";
    g.fillRect((turn.start / duration) * width, 0, ((turn.end - turn.start) / duration) * width, height);
  }
  if (peaks) {
    g.fillStyle = "#475569";
    for (let x = 0; x < peaks.length; x++) {
      const h = Math.max(1, peaks[x] * height);
      g.fillRect(x, (height - h) / 2, 1, h);
    }
  }
  g.fillStyle = "#dc2626";
  g.fillRect(((audio.currentTime || 0) / duration) * width, 0, 2, height);
}

canvas.addEventListener("click", (event) => {
  const box = canvas.getBoundingClientRect();
  seek(((event.clientX - box.left) / box.width) * (audio.duration || 0));
});

function swapped() {
  return Boolean(review?.swap_roles);
}

function turns() {
  return (call?.transcript || []).map((t) => ({ ...t, role: swapped() ? (t.role === "sales" ? "customer" : "sales") : t.role }));
}

function seek(seconds, play = true) {
  if (!Number.isFinite(seconds)) return;
  audio.currentTime = seconds;
  if (play) audio.play().catch(() => {});
  follow();
}

function roleLabel(role) {
  return role === "sales" ? T.sales : T.customer_role;
}

function render() {
  transcript.replaceChildren(...turns().map((turn, index) => el("li", {
    class: `turn ${turn.role}`, id: `turn-${index}`, tabindex: "0", "data-start": turn.start, "data-end": turn.end,
    onclick: () => seek(turn.start),
    onkeydown: (event) => { if (event.key === "Enter") seek(turn.start); },
  }, el("span", { class: "when" }, clock(turn.start)), el("span", { class: "who" }, roleLabel(turn.role)),
  el("span", { class: "text" }, turn.text))));
  renderScorecard();
  renderIntent();
  renderMetrics();
  draw();
}

function evidenceLink(evidence) {
  if (!evidence || evidence.turn == null) return null;
  return el("button", { type: "button", class: "link", onclick: () => jumpToTurn(evidence.turn) },
    `${T.evidence}: ${clock(evidence.start ?? 0)} ${String(evidence.text || "").slice(0, 40)}`);
}

function jumpToTurn(index) {
  const turn = call.transcript[index];
  if (turn) seek(turn.start, false);
  document.getElementById(`turn-${index}`)?.focus();
}

function checkpointState(key, item) {
  const corrected = review?.checkpoints?.[key];
  return corrected === undefined ? { passed: item.passed, reviewed: false } : { passed: corrected, reviewed: true };
}

function renderScorecard() {
  const card = call.scorecard;
  if (!card) return;
  document.getElementById("score").textContent = `${Math.round(card.score)}/100`;
  document.getElementById("reviewed-badge").hidden = !review;
  const list = document.getElementById("checkpoints");
  list.replaceChildren(...Object.entries(card.checkpoints).map(([key, item]) => {
    const state = checkpointState(key, item);
    const label = item.applicable === false ? T.not_applicable : state.passed ? T.passed : T.missed;
    return el("li", { class: `checkpoint ${state.passed ? "passed" : "missed"}`, "data-key": key },
      el("button", {
        type: "button", class: "toggle", "aria-pressed": state.passed ? "true" : "false",
        "aria-label": `${item.label || key}: ${label}`,
        onclick: () => correctCheckpoint(key, !state.passed),
        onfocus: () => { selectedCheckpoint = key; },
      }, state.passed ? "✓" : "✗"),
      el("span", { class: "name" }, item.label || key),
      el("span", { class: "state" }, label, state.reviewed ? ` (${T.reviewed})` : ""),
      evidenceLink(item.evidence?.[0]));
  }));
  const violations = document.getElementById("violations");
  violations.replaceChildren(...(card.violations.length ? card.violations.map((v) => el("li", {}, `${v.type} `,
    evidenceLink({ turn: v.turn, start: v.start, text: v.text }))) : [el("li", {}, T.none)]));
}

function renderIntent() {
  const intent = call.intent;
  if (intent) {
    const grade = review?.grade || intent.grade;
    document.getElementById("grade").textContent = grade + (review?.grade ? ` (${T.reviewed})` : "");
    document.getElementById("grade-probabilities").textContent = Object.entries(intent.probabilities)
      .map(([g, p]) => `${g} ${Math.round(p * 100)}%`).join(" · ");
    document.getElementById("grade-select").value = review?.grade || "";
  }
  const list = document.getElementById("attributes");
  list.replaceChildren(...Object.entries(call.attributes || {}).flatMap(([key, item]) => [
    el("dt", {}, key),
    el("dd", {}, typeof item.value === "object" ? JSON.stringify(item.value) : String(item.value), " ",
      evidenceLink(item.evidence?.[0])),
  ]));
}

function renderMetrics() {
  const m = call.metrics;
  const box = document.getElementById("metrics");
  if (!m) { box.replaceChildren(); return; }
  const sales = m.sales.talk_ratio ?? 0;
  const bar = el("div", { class: "ratio", role: "img", "aria-label": `${T.talk_ratio}: ${T.sales} ${Math.round(sales * 100)}%` },
    el("span", { class: "sales", style: `width:${sales * 100}%` }, `${T.sales} ${Math.round(sales * 100)}%`),
    el("span", { class: "customer", style: `width:${(1 - sales) * 100}%` }, `${T.customer_role} ${Math.round((1 - sales) * 100)}%`));
  const silence = el("p", {}, `${T.silence}: ${m.silence_time.toFixed(1)} s (max ${m.longest_silence.toFixed(1)} s)`);
  const parts = [el("h3", {}, T.talk_ratio), bar, silence];
  if (m.sentiment && m.sentiment.quarters) {
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 200 60");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", `${T.sentiment_trend}: ${m.sentiment.quarters.map((q) => (q == null ? "-" : q.toFixed(2))).join(", ")}`);
    svg.classList.add("sentiment");
    m.sentiment.quarters.forEach((q, i) => {
      if (q == null) return;
      const rect = document.createElementNS("http://www.w3.org/2000/svg", "rect");
      const h = Math.abs(q) * 28;
      rect.setAttribute("x", String(10 + i * 48));
      rect.setAttribute("width", "36");
      rect.setAttribute("y", String(q >= 0 ? 30 - h : 30));
      rect.setAttribute("height", String(Math.max(1, h)));
      rect.setAttribute("class", q >= 0 ? "up" : "down");
      svg.append(rect);
    });
    parts.push(el("h3", {}, T.sentiment_trend), svg);
  }
  box.replaceChildren(...parts);
}

async function saveReview(corrections) {
  // Every review carries the current speaker swap: the API merges reviews item by item.
  await api(`/v1/calls/${callId}/review`, { method: "POST", json: { swap_roles: swapped(), ...corrections } });
  call = await api(`/v1/calls/${callId}`);
  review = call.review;
  render();
  toast(T.saved);
}

function correctCheckpoint(key, passed) {
  saveReview({ checkpoints: { [key]: passed } })
    .then(() => document.querySelector(`.checkpoint[data-key="${key}"] .toggle`)?.focus())
    .catch((e) => toast(e.message, true));
}

document.getElementById("grade-select").addEventListener("change", (event) => {
  if (event.target.value) saveReview({ grade: event.target.value }).catch((e) => toast(e.message, true));
});
document.getElementById("swap-roles").addEventListener("click", () => {
  saveReview({ swap_roles: !swapped() }).catch((e) => toast(e.message, true));
});

function follow() {
  const now = audio.currentTime;
  let current = null;
  for (const item of transcript.children) {
    const inside = now >= Number(item.dataset.start) && now < Number(item.dataset.end);
    item.classList.toggle("current", inside);
    if (inside) { item.setAttribute("aria-current", "true"); current = item; } else item.removeAttribute("aria-current");
  }
  if (current && !audio.paused) current.scrollIntoView({ block: "nearest" });
  draw();
}
audio.addEventListener("timeupdate", follow);
audio.addEventListener("seeked", follow);

document.addEventListener("keydown", (event) => {
  const tag = event.target.tagName;
  if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA" || event.ctrlKey || event.metaKey || event.altKey) return;
  const items = [...transcript.children];
  const index = items.findIndex((item) => item.classList.contains("current"));
  if (event.key === " " && tag !== "BUTTON") {
    event.preventDefault();
    if (audio.paused) audio.play().catch(() => {}); else audio.pause();
  } else if (event.key === "j" || event.key === "k") {
    const next = items[Math.min(items.length - 1, Math.max(0, index + (event.key === "j" ? 1 : -1)))];
    if (next) { seek(Number(next.dataset.start), false); next.focus(); }
  } else if ((event.key === "p" || event.key === "m") && selectedCheckpoint) {
    correctCheckpoint(selectedCheckpoint, event.key === "p");
  } else if (event.key === "s") {
    saveReview({ swap_roles: !swapped() }).catch((e) => toast(e.message, true));
  }
});

load().catch((e) => toast(e.message, true));

import { T, LANG, TIME_ZONE, api, clock, el, format, localTime, nameOf, requireKey, snippet, toast } from "./common.js";

await requireKey();
const callId = document.getElementById("call").dataset.callId;
const audio = document.getElementById("audio");
const canvas = document.getElementById("waveform");
const transcript = document.getElementById("transcript");
const LABELS = JSON.parse(document.getElementById("labels").textContent);
let call = null;
let review = null;
let peaks = null;
let selectedCheckpoint = null;
// The waveform needs the whole file; past this length the player streams and shows turns only.
const WAVEFORM_MAX_S = 600;

async function load() {
  try {
    call = await api(`/v1/calls/${callId}`);
  } catch (error) {
    if (error.status === 404) { notFound(); return; }
    throw error;
  }
  review = call.review;
  const when = call.recorded_at || call.created_at;
  document.getElementById("call-meta").textContent = [call.dealer, T[`scenario_${call.scenario}`] || call.scenario, call.salesperson_id,
    call.customer_id, `${localTime(when)} (${TIME_ZONE})`, T[call.status] || call.status].filter(Boolean).join(" · ");
  const waiting = call.status === "queued" || call.status === "processing";
  document.getElementById("waiting").hidden = !waiting;
  if (waiting) {
    setTimeout(() => load().catch((e) => toast(e.message, true)), 2000);
  }
  if (!audio.src) loadAudio().catch((e) => toast(e.message, true));
  else waveformOnce();
  if (call.status === "done") {
    render();
    openAtRequestedTime();
  }
}

// A search result links here with ?t=<seconds>: show the turn said then and move the player
// there (once the recording's length is known, or the browser would ignore the seek).
let requestedTime = Number.parseFloat(new URLSearchParams(location.search).get("t"));
function openAtRequestedTime() {
  if (!Number.isFinite(requestedTime)) return;
  const seconds = Math.max(0, requestedTime);
  requestedTime = NaN;
  const index = call.transcript.findIndex((turn, i, all) => seconds < (all[i + 1]?.start ?? Infinity) && seconds >= turn.start);
  const item = document.getElementById(`turn-${Math.max(0, index)}`);
  item?.scrollIntoView({ block: "center" });
  item?.focus({ preventScroll: true });
  if (audio.readyState >= HTMLMediaElement.HAVE_METADATA) seek(seconds, false);
  else audio.addEventListener("loadedmetadata", () => seek(seconds, false), { once: true });
}

// Another dealer's call, or none: a page that says so, with no controls left to use.
function notFound() {
  const box = document.getElementById("call");
  box.replaceChildren(el("h1", { id: "not-found" }, T.not_found_title), el("p", {}, T.not_found_text),
    el("p", {}, el("a", { href: `/console/calls?lang=${LANG}` }, T.back_to_calls)));
  document.title = `${T.not_found_title} · ${T.title}`;
  call = null;
}

// The player streams the recording through a short-lived signed link (HTTP range requests),
// so an hour-long recording plays at once; an expired link is renewed where playback stood.
async function loadAudio() {
  const link = await api(`/v1/calls/${callId}/audio-link`, { method: "POST" });
  audio.src = link.url;
  waveformOnce();
  draw();
}

// Once the call's length is known (a queued call's is not yet), and only for a short one.
function waveformOnce() {
  if (audio.dataset.waveform || !audio.src || (call?.duration_s ?? Infinity) > WAVEFORM_MAX_S) return;
  audio.dataset.waveform = "1";
  drawWaveform(audio.src).catch(() => {});
}

audio.addEventListener("error", () => {
  if (!call || audio.dataset.renewed === audio.src) return;
  const at = audio.currentTime;
  audio.dataset.renewed = audio.src;
  api(`/v1/calls/${callId}/audio-link`, { method: "POST" }).then((link) => {
    audio.src = link.url;
    audio.currentTime = at;
  }).catch((e) => toast(e.message, true));
});

async function drawWaveform(url) {
  const bytes = await (await fetch(url)).arrayBuffer();
  try {
    const decoded = await new AudioContext().decodeAudioData(bytes);
    peaks = waveform(decoded, canvas.width);
  } catch {
    peaks = null; // a format the browser cannot decode: the player still works without the waveform
  }
  draw();
}

// The peak of every channel per pixel column: a stereo call shows both sides.
function waveform(buffer, width) {
  const out = new Float32Array(width);
  for (let channel = 0; channel < buffer.numberOfChannels; channel++) {
    const data = buffer.getChannelData(channel);
    const step = Math.max(1, Math.floor(data.length / width));
    for (let x = 0; x < width; x++) {
      let peak = out[x];
      for (let i = x * step; i < Math.min(data.length, (x + 1) * step); i++) peak = Math.max(peak, Math.abs(data[i]));
      out[x] = peak;
    }
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

// The API gives the roles as QA set them (a review's swap_roles is applied server side).
function turns() {
  return call?.transcript || [];
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

// A link to the turn an item was found in; for a missed checkpoint, the closest turn.
function evidenceLink(evidence, closest = false) {
  if (!evidence || evidence.turn == null) return null;
  return el("button", { type: "button", class: "link evidence", onclick: () => jumpToTurn(evidence.turn) },
    `${closest ? T.closest : T.evidence}: ${clock(evidence.start ?? 0)} ${snippet(evidence.text)}`);
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
  // The score with QA's corrections applied (the list's), and the model's when they differ.
  const model = call.model?.scorecard || card;
  const score = call.score ?? card.score;
  document.getElementById("score").textContent = `${Math.round(score)}/100` +
    (Math.round(score) !== Math.round(model.score) ? ` (${T.model_score} ${Math.round(model.score)})` : "");
  document.getElementById("reviewed-badge").hidden = !review;
  const list = document.getElementById("checkpoints");
  list.replaceChildren(...Object.entries(card.checkpoints).map(([key, item]) => {
    const name = nameOf("checkpoint", key, LABELS.checkpoints[key] || item.label);
    if (item.applicable === false) {
      // Not applicable to this call: no verdict to give, and no red cross.
      return el("li", { class: "checkpoint not-applicable", "data-key": key },
        el("span", { class: "mark", "aria-hidden": "true" }, "–"),
        el("span", { class: "name" }, name),
        el("span", { class: "state" }, T.not_applicable));
    }
    const state = checkpointState(key, item);
    const label = state.passed ? T.passed : T.missed;
    // A verdict changes by choosing the other one (a select), never by a single click on a mark.
    const verdict = el("select", {
      class: "verdict", "aria-label": `${name}: ${T.verdict}`,
      onchange: (event) => correctCheckpoint(key, event.target.value === "passed"),
      onfocus: () => { selectedCheckpoint = key; },
    }, el("option", { value: "passed", selected: state.passed }, T.passed),
    el("option", { value: "missed", selected: !state.passed }, T.missed));
    return el("li", { class: `checkpoint ${state.passed ? "passed" : "missed"}`, "data-key": key },
      el("span", { class: "mark", "aria-hidden": "true" }, state.passed ? "✓" : "✗"),
      el("span", { class: "name" }, name),
      el("span", { class: "state" }, label, state.reviewed ? ` (${T.reviewed})` : ""),
      verdict,
      evidenceLink(item.evidence?.[0], !item.passed));
  }));
  // Violations: the model's (QA can reject each) and those QA added.
  const corrected = review?.violations || {};
  const found = model.violations.map((v) => ({ ...v, committed: corrected[v.type] ?? true, reviewed: v.type in corrected }));
  const added = Object.entries(corrected).filter(([type, yes]) => yes && !model.violations.some((v) => v.type === type))
    .map(([type]) => ({ type, committed: true, reviewed: true }));
  const items = [...found, ...added];
  const violations = document.getElementById("violations");
  violations.replaceChildren(...(items.length ? items.map((v) => {
    const name = nameOf("violation", v.type, LABELS.violations[v.type]);
    return el("li", { class: `violation ${v.committed ? "committed" : "rejected"}`, "data-type": v.type },
      el("span", { class: "name" }, name),
      v.reviewed ? el("span", { class: "state" }, ` (${T.reviewed}) `) : " ",
      el("select", {
        class: "verdict", "aria-label": `${name}: ${T.verdict}`,
        onchange: (event) => saveReview({ violations: { [v.type]: event.target.value === "committed" } })
          .catch((e) => toast(e.message, true)),
      }, el("option", { value: "committed", selected: v.committed }, T.violation_confirmed),
      el("option", { value: "rejected", selected: !v.committed }, T.not_a_violation)),
      v.turn == null ? null : evidenceLink({ turn: v.turn, start: v.start, text: v.text }));
  }) : [el("li", {}, T.none)]));
  renderReviewState();
}

// Who reviewed, when, whether the review is complete, and the comment.
function renderReviewState() {
  const line = document.getElementById("review-state");
  const note = document.getElementById("review-note");
  if (!review) {
    line.textContent = T.not_reviewed;
  } else {
    const values = { reviewer: review.reviewer || "—", when: `${localTime(review.reviewed_at)} (${TIME_ZONE})` };
    line.textContent = format(review.complete ? T.review_completed_by : T.review_draft_by, values);
  }
  if (document.activeElement !== note) note.value = review?.note || "";
  document.getElementById("review-complete").textContent = review?.complete ? T.review_completed : T.review_complete;
}

function renderIntent() {
  const intent = call.intent;
  if (intent) {
    const grade = review?.grade || intent.grade;
    document.getElementById("grade").textContent = grade + (review?.grade ? ` (${T.reviewed})` : "");
    document.getElementById("grade-probabilities").textContent = Object.entries(intent.probabilities || {})
      .map(([g, p]) => `${g} ${Math.round(p * 100)}%`).join(" · ");
    document.getElementById("grade-select").value = review?.grade || "";
  } else {
    // An after-sales call (service_call) has no purchase grade: nothing to show or correct.
    document.getElementById("grade").textContent = T.grade_not_applicable;
    document.getElementById("grade-probabilities").textContent = "";
    document.getElementById("grade-select").hidden = true;
    document.querySelector('label[for="grade-select"]').hidden = true;
  }
  // Attributes: the model's values, a reviewed value over it, and those QA added.
  const corrected = review?.attributes || {};
  const keys = [...new Set([...Object.keys(call.attributes || {}), ...Object.keys(corrected)])];
  const list = document.getElementById("attributes");
  list.replaceChildren(...keys.flatMap((key) => {
    const item = call.attributes?.[key];
    const reviewed = key in corrected;
    const value = reviewed ? corrected[key]?.value ?? null : item.value;
    return [
      el("dt", {}, T[`attr_${key}`] || key),
      el("dd", { "data-key": key }, value == null ? T.not_said : showValue(value), reviewed ? ` (${T.reviewed})` : "", " ",
        el("button", { type: "button", class: "link", "aria-label": `${T.correct_attribute}: ${T[`attr_${key}`] || key}`,
          onclick: () => editAttribute(key, value) }, T.edit),
        " ", item ? evidenceLink(item.evidence?.[0]) : null),
    ];
  }));
}

function showValue(value) {
  if (Array.isArray(value)) return value.join("、");
  if (value && typeof value === "object") return `${value.min ?? "…"} – ${value.max ?? "…"}`;
  if (typeof value === "boolean") return value ? T.yes : T.no;
  return T[`choice_${value}`] || String(value);
}

// The value inputs of the attribute editor, by the attribute's kind (DOMAIN.md's value forms).
function attributeInputs(key, value) {
  const box = document.getElementById("attr-value");
  const field = (name, input) => el("label", {}, name, " ", input);
  if (LABELS.choices[key]) {
    box.replaceChildren(field(T.value, el("select", { id: "attr-input" },
      ...LABELS.choices[key].map((c) => el("option", { value: c, selected: c === value }, T[`choice_${c}`] || c)))));
  } else if (key === "trade_in") {
    box.replaceChildren(field(T.value, el("select", { id: "attr-input" },
      el("option", { value: "true", selected: value === true }, T.yes), el("option", { value: "false", selected: value === false }, T.no))));
  } else if (key === "budget_cny") {
    box.replaceChildren(
      field(T.budget_min, el("input", { id: "attr-min", type: "number", min: 0, step: 1000, value: value?.min ?? "" })),
      field(T.budget_max, el("input", { id: "attr-max", type: "number", min: 0, step: 1000, value: value?.max ?? "" })));
  } else if (key === "purchase_timeline_days") {
    box.replaceChildren(field(T.days, el("input", { id: "attr-input", type: "number", min: 0, step: 1, value: value ?? "" })));
  } else {
    box.replaceChildren(field(T.value, el("input", { id: "attr-input", maxlength: 100,
      value: Array.isArray(value) ? value[0] ?? "" : value ?? "" })));
  }
}

function editAttribute(key, value) {
  const select = document.getElementById("attr-key");
  select.value = key;
  attributeInputs(key, value);
  document.getElementById("attr-not-said").checked = value == null;
  (document.getElementById("attr-input") || document.getElementById("attr-min")).focus();
}

function attributeValue(key) {
  if (document.getElementById("attr-not-said").checked) return null;
  const number = (id) => { const v = document.getElementById(id).value; return v === "" ? null : Math.round(Number(v)); };
  if (key === "budget_cny") return { min: number("attr-min"), max: number("attr-max") };
  if (key === "purchase_timeline_days") return number("attr-input");
  if (key === "trade_in") return document.getElementById("attr-input").value === "true";
  return document.getElementById("attr-input").value.trim();
}

function renderMetrics() {
  const m = call.metrics;
  const box = document.getElementById("metrics");
  if (!m) { box.replaceChildren(); return; }
  const sales = m.sales.talk_ratio ?? 0;
  const bar = el("div", { class: "ratio", role: "img", "aria-label": `${T.talk_ratio}: ${T.sales} ${Math.round(sales * 100)}%` },
    el("span", { class: "sales", style: `width:${sales * 100}%` }, `${T.sales} ${Math.round(sales * 100)}%`),
    el("span", { class: "customer", style: `width:${(1 - sales) * 100}%` }, `${T.customer_role} ${Math.round((1 - sales) * 100)}%`));
  const silence = el("p", { id: "silence" }, format(T.silence_line,
    { silence: m.silence_time.toFixed(1), longest: m.longest_silence.toFixed(1) }));
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
    .then(() => document.querySelector(`.checkpoint[data-key="${key}"] .verdict`)?.focus())
    .catch((e) => toast(e.message, true));
}

document.getElementById("review-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const complete = event.submitter?.id === "review-complete";
  const note = document.getElementById("review-note").value.trim();
  saveReview({ note, ...(complete ? { complete: true } : {}) }).catch((e) => toast(e.message, true));
});
document.getElementById("attr-key").addEventListener("change", (event) => {
  const key = event.target.value;
  attributeInputs(key, call?.attributes?.[key]?.value);
});
document.getElementById("attribute-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = document.getElementById("attr-key").value;
  saveReview({ attributes: { [key]: attributeValue(key) } })
    .then(() => document.querySelector(`#attributes dd[data-key="${key}"] button`)?.focus())
    .catch((e) => toast(e.message, true));
});
document.getElementById("violation-form").addEventListener("submit", (event) => {
  event.preventDefault();
  saveReview({ violations: { [document.getElementById("violation-add").value]: true } }).catch((e) => toast(e.message, true));
});
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
  if (!call) return;
  const tag = event.target.tagName;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  // On a checkpoint's verdict, P/M choose it outright (the key, not a flip, decides), and the
  // page's J/K/S work as elsewhere (not the list's type-ahead).
  const verdict = tag === "SELECT" && event.target.closest(".checkpoint");
  if (verdict && (event.key === "p" || event.key === "m")) {
    event.preventDefault();
    correctCheckpoint(verdict.dataset.key, event.key === "p");
    return;
  }
  if (verdict && ["j", "k", "s"].includes(event.key)) event.preventDefault();
  else if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") return;
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

attributeInputs(document.getElementById("attr-key").value, undefined);
load().catch((e) => toast(e.message, true));

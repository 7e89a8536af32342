// Small DOM helpers and shared widgets. Text always goes in through textContent (no innerHTML with data).

// Display names of the statuses (the list itself comes from GET /api/meta; an unknown status shows as is).
const STATUS_LABELS = {
  connecting: "connecting",
  qr: "waiting for QR scan",
  connected: "connected",
  disconnected: "disconnected",
  logged_out: "logged out",
  failed: "failed",
};

/**
 * h("button.btn.btn-primary", {type: "button", onclick, testid: "x"}, "text", child, [children])
 * `testid` becomes data-testid; `dataset` sets data-*; booleans toggle attributes; `on*` are listeners.
 */
export function h(spec, attrs, ...children) {
  if (attrs === null || typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs)) {
    if (attrs !== undefined && attrs !== null) children.unshift(attrs);
    attrs = {};
  }
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag || "div");
  if (classes.length) el.className = classes.join(" ");
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "testid") el.dataset.testid = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "class") el.className = [el.className, value].filter(Boolean).join(" ");
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "value" || key === "checked" || key === "selected") el[key] = value;
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/** A status in words: "waiting for QR scan", "logged out"… */
export function statusLabel(status) {
  return STATUS_LABELS[status] || String(status || "unknown").replace(/_/g, " ");
}

export function badge(status, testid = "status-badge") {
  const s = status || "unknown";
  return h(`span.badge.badge-${s}`, { testid, dataset: { status: s }, title: STATUS_LABELS[s] || s }, STATUS_LABELS[s] || s);
}

export function setBadge(el, status) {
  const s = status || "unknown";
  el.className = `badge badge-${s}`;
  el.dataset.status = s;
  el.title = STATUS_LABELS[s] || s;
  el.textContent = STATUS_LABELS[s] || s;
}

/** An error box that always shows the server's `error` text. */
export function errorBox(err, testid = "error") {
  return h("div.alert.alert-error", { role: "alert", testid }, errorText(err));
}

export function errorText(err) {
  if (!err) return "unknown error";
  if (typeof err === "string") return forPeople(err);
  if (err.code === "catching_up") return catchingUpText(err);
  return forPeople(err.message || String(err));
}

/** A read answered 503 catching_up (the server rebuilds its lists after a restart): how far, and when to retry. */
function catchingUpText(err) {
  const details = err.details || {};
  const progress = Number(details.progress);
  const done = Number.isFinite(progress) ? ` (${Math.max(0, Math.min(99, Math.floor(progress * 100)))} %)` : "";
  const wait = Number.isFinite(err.retryAfter) ? err.retryAfter : Number(details.etaSeconds);
  const when = Number.isFinite(wait) && wait > 0 ? `Try again in ${Math.ceil(wait)} s.` : "Try again in a moment.";
  return `Still rebuilding this list after a restart${done}. ${when}`;
}

// The API's messages may name a route for API clients ("…; POST /api/instances/<id>/reconnect to get one");
// people get the button that does it instead.
const ROUTE_IN_TEXT = /\b(?:GET|POST|PUT|PATCH|DELETE) \/api\/[^\s;,)]*/g;
const ISO_IN_TEXT = /\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})\b/g;
const BUTTON_FOR = [
  [/\/reconnect$/, "the Reconnect button on the Connection tab"],
  [/\/logout$/, "the Log out of WhatsApp button on the Connection tab"],
  [/\/qr$/, "the QR code on the Connection tab"],
  [/\/pair$/, "the pairing code on the Connection tab"],
];

/** A server message in words for people: a named API route becomes the button that does the same. */
export function forPeople(text) {
  return String(text)
    .replace(ROUTE_IN_TEXT, (route) => {
      const path = route.split(" ")[1].split("?")[0];
      const found = BUTTON_FOR.find(([re]) => re.test(path));
      return found ? `use ${found[1]}` : "this page";
    })
    .replace(/\buse (the .+? tab) restarts it\b/g, "$1 restarts it")
    .replace(ISO_IN_TEXT, (iso) => fmtDate(iso))
    .replace(/\s{2,}/g, " ");
}

/** A region whose content is replaced by loading / error / content states. */
export function region(testid, attrs = {}) {
  return h("div", { testid, "aria-live": "polite", ...attrs });
}

export function showError(container, err, testid) {
  clear(container).append(errorBox(err, testid));
}

/**
 * A short message in the corner. A toast belongs to the page it was shown on and goes when you leave it;
 * `keep: true` lets it come along once (said just before moving to another page: "Instance deleted").
 */
export function toast(message, kind = "ok", { keep = false } = {}) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const el = h(`div.toast${kind === "error" ? ".error" : ""}`, { testid: kind === "error" ? "toast-error" : "toast" }, forPeople(message));
  if (keep) el.dataset.keep = "once";
  box.append(el);
  setTimeout(() => el.remove(), kind === "error" ? 8000 : 4000);
}

/** Leaving a page: its toasts go (one shown with `keep` stays for this move only). */
export function clearToasts() {
  for (const el of [...(document.getElementById("toasts")?.children || [])]) {
    if (el.dataset.keep === "once") delete el.dataset.keep;
    else el.remove();
  }
}

/** A modal confirmation using the native <dialog>. Resolves true when confirmed. */
export function confirmDialog(text, okLabel = "Confirm") {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = text;
  dialog.querySelector('[value="ok"]').textContent = okLabel;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
    dialog.querySelector('[value="cancel"]').focus();
  });
}

let fieldSeq = 0;
/** A labelled input. Returns the wrapper; the control is `.input`. */
export function field(label, attrs = {}, hint) {
  const id = attrs.id || `f${++fieldSeq}`;
  const tag = attrs.tag || "input";
  const { tag: _t, options, ...rest } = attrs;
  let control;
  if (tag === "select") {
    control = h("select", { id, ...rest }, (options || []).map(([v, l]) => h("option", { value: v }, l)));
    if (rest.value !== undefined) control.value = rest.value;
  } else {
    control = h(tag, { id, ...rest });
  }
  const wrap = h("div.field", h("label", { for: id }, label), control, hint ? h("div.hint", { id: `${id}-hint` }, hint) : null);
  if (hint) control.setAttribute("aria-describedby", `${id}-hint`);
  wrap.input = control;
  return wrap;
}

/** Append one <option> per value (e.g. a list from GET /api/meta), labelled by `label(value)`. */
export function addOptions(select, values, label = (v) => v.replace(/_/g, " ")) {
  for (const v of values) select.append(h("option", { value: v }, label(v)));
}

export function checkbox(label, attrs = {}) {
  const id = attrs.id || `f${++fieldSeq}`;
  const control = h("input", { type: "checkbox", id, ...attrs });
  const wrap = h("label.check", { for: id }, control, label);
  wrap.input = control;
  return wrap;
}

/** Run an async action from a button or form: disables the button and shows errors in `errorTarget`. */
export async function busy(button, errorTarget, fn) {
  if (button) button.disabled = true;
  if (errorTarget) clear(errorTarget);
  try {
    return await fn();
  } catch (err) {
    if (err?.name === "AbortError") return undefined;
    if (errorTarget) errorTarget.append(errorBox(err, errorTarget.dataset.errorTestid || "form-error"));
    else toast(errorText(err), "error");
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

export function fmtDate(value) {
  if (!value) return "—";
  const d = typeof value === "number" ? new Date(value < 1e12 ? value * 1000 : value) : new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

export function fmtTime(value) {
  if (!value) return "";
  const d = typeof value === "number" ? new Date(value < 1e12 ? value * 1000 : value) : new Date(value);
  if (Number.isNaN(d.getTime())) return "";
  return d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

export function fmtBytes(n) {
  if (n === undefined || n === null) return "0 B";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  let v = Number(n);
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v.toFixed(v < 10 && i ? 1 : 0)} ${units[i]}`;
}

export function fmtNumber(n) {
  return typeof n === "number" ? n.toLocaleString() : n ?? "0";
}

export function jidNumber(jid) {
  return String(jid || "").split("@")[0];
}

/** Copy text to the clipboard (falls back to selecting it). */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    toast("Copied");
  } catch {
    toast("Copy failed: select the text and copy it by hand", "error");
  }
}

// Add or edit a webhook target: its address, the events it gets (grouped checkboxes; "All events" is ["*"]),
// a write-only signing secret, custom headers, retries. The default target is the instance's own webhook
// (PUT /api/instances/{id}): its form has the four notify switches instead of the event list. What the server
// refuses shows next to the field it names (`details`).

import { api, enc } from "../api.js";
import { busy, checkbox, clear, errorBox, field, h, toast } from "../ui.js";
import { EVENT_GROUPS, NOTIFY_FLAGS, eventGroup, eventLabel } from "./words.js";

const MAX_RETRIES = 50; // the server's limits (it checks them again)
const MAX_INTERVAL_S = 86400;

/**
 * The form for `target` (null: a new one). `inst` is the instance (the default target's notify flags and
 * secret), `m` the meta document. opts: saved(target) after a save, cancel().
 */
export function targetForm(ctx, target, inst, m, { saved, cancel }) {
  const isDefault = target?.id === "default";
  const ws = inst?.webhookSettings || {};
  const status = h("div", { testid: "webhook-form-status", "aria-live": "assertive", dataset: { errorTestid: "webhook-form-error" } });
  const url = field("Address (URL)", { type: "url", required: !isDefault, value: target?.url || "", placeholder: "https://example.com/hook", testid: "webhook-form-url", autocomplete: "off" }, isDefault ? "Leave it empty to send nothing." : "wamux sends each event here as a POST request.");
  const enabled = checkbox("On: send events to this address", { checked: target ? target.enabled !== false : true, testid: "webhook-form-enabled" });
  const events = isDefault ? notifySwitches(ws) : eventPicker(m, target?.events || ["*"]);
  const secret = secretField(isDefault ? Boolean(ws.secret) : Boolean(target?.secret));
  const headers = headerRows(isDefault ? ws.headers : target?.headers);
  const retries = field("Tries again", { type: "number", min: 0, max: MAX_RETRIES, step: 1, value: String(target?.maxRetries ?? ws.maxRetries ?? 3), testid: "webhook-form-retries" }, "How many more times a delivery is tried after it fails.");
  const interval = field("Wait between tries (seconds)", { type: "number", min: 0, max: MAX_INTERVAL_S, step: "any", value: String((target?.retryInterval ?? ws.retryInterval ?? 60000) / 1000), testid: "webhook-form-interval" });
  const save = h("button.btn.btn-primary", { type: "submit", testid: "webhook-form-save" }, target ? "Save" : "Add target");
  const close = h("button.btn", { type: "button", testid: "webhook-form-cancel" }, "Cancel");
  close.addEventListener("click", cancel);
  const fields = { url, enabled, events, secret, headers, maxRetries: retries, retryInterval: interval };

  const form = h(
    "form.webhook-form",
    { testid: "webhook-form", dataset: { webhookId: target?.id || "" }, novalidate: true },
    h("h2", { id: "webhook-form-title" }, isDefault ? "Default target" : target ? "Edit target" : "Add a target"),
    url,
    enabled,
    events,
    secret,
    headers,
    h("div.form-grid", retries, interval),
    status,
    h("div.row.end", close, save),
  );
  form.setAttribute("aria-labelledby", "webhook-form-title");

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    for (const el of form.querySelectorAll(".field-error")) el.remove();
    busy(save, status, async () => {
      let body;
      try {
        body = collect();
      } catch (err) {
        showFieldErrors(fields, err.details, err.message, status);
        return;
      }
      try {
        const result = await send(body);
        toast(isDefault ? "Default target saved" : target ? "Target saved" : "Target added");
        saved(result);
      } catch (err) {
        if (!err.details || !showFieldErrors(fields, err.details, err.message, status)) throw err;
      }
    });
  });

  function collect() {
    const problems = {};
    const address = url.input.value.trim();
    if (!isDefault && !address) problems.url = "Write the address that gets the events.";
    const tries = Number(retries.input.value);
    if (!Number.isInteger(tries) || tries < 0 || tries > MAX_RETRIES) problems.maxRetries = `A whole number from 0 to ${MAX_RETRIES}.`;
    const seconds = Number(interval.input.value);
    if (interval.input.value === "" || !(seconds >= 0 && seconds <= MAX_INTERVAL_S)) problems.retryInterval = `Seconds from 0 to ${MAX_INTERVAL_S}.`;
    const chosen = isDefault ? null : events.value();
    if (chosen && !chosen.length) problems.events = "Choose at least one event, or All events.";
    let hdrs = {};
    try {
      hdrs = headers.value();
    } catch (err) {
      problems.headers = err.message;
    }
    if (Object.keys(problems).length) throw Object.assign(new Error("Some fields need a look."), { details: problems });
    const common = { maxRetries: tries, retryInterval: Math.round(seconds * 1000), headers: hdrs };
    const newSecret = secret.value();
    if (newSecret !== undefined) common.secret = newSecret;
    if (isDefault) {
      return { webhookUrl: address || null, webhookEnabled: enabled.input.checked, webhookSettings: { ...events.value(), ...common } };
    }
    return { url: address, events: chosen, enabled: enabled.input.checked, ...common };
  }

  async function send(body) {
    if (isDefault) {
      await api.put(`/api/instances/${enc(ctx.id)}`, body);
      return { id: "default" };
    }
    const base = `/api/instances/${enc(ctx.id)}/webhooks`;
    return target ? api.put(`${base}/${enc(target.id)}`, body) : api.post(base, body);
  }

  return form;
}

/** The event checkboxes, grouped, with "All events" (= ["*"]) on top. `.value()` is the chosen list. */
function eventPicker(m, current) {
  const all = checkbox("All events, including the ones added later", { checked: current.includes("*"), testid: "webhook-event-all" });
  const names = (m.eventTypes || []).filter((n) => n !== "test");
  const boxes = new Map();
  const groups = EVENT_GROUPS.map(([key, label]) => {
    const mine = names.filter((n) => eventGroup(n, m) === key);
    if (!mine.length) return null;
    return h(
      "fieldset.event-group",
      { testid: "webhook-event-group", dataset: { group: key } },
      h("legend", label),
      mine.map((name) => {
        const box = checkbox(eventLabel(name), { checked: current.includes(name), value: name, testid: "webhook-event", dataset: { event: name } });
        boxes.set(name, box.input);
        return box;
      }),
    );
  });
  const list = h("div.event-groups", groups);
  const sync = () => {
    for (const input of boxes.values()) input.disabled = all.input.checked;
    list.classList.toggle("muted", all.input.checked);
  };
  all.input.addEventListener("change", sync);
  sync();
  const wrap = h("fieldset.events-field", { testid: "webhook-form-events" }, h("legend", "Events it gets"), all, list);
  wrap.value = () => (all.input.checked ? ["*"] : names.filter((n) => boxes.get(n).checked));
  return wrap;
}

/** The default target's notify switches. `.value()` is the notify flags. */
function notifySwitches(ws) {
  const boxes = NOTIFY_FLAGS.map(([key, label]) => [key, checkbox(label, { checked: Boolean(ws[key]), testid: `webhook-notify-${key}` })]);
  const wrap = h(
    "fieldset.events-field",
    { testid: "webhook-form-events" },
    h("legend", "Events it gets"),
    boxes.map(([, box]) => box),
    h("p.hint.small.muted", "Connection, group and call events are always sent."),
  );
  wrap.value = () => Object.fromEntries(boxes.map(([key, box]) => [key, box.input.checked]));
  return wrap;
}

/** The signing secret, write-only. `.value()`: undefined (keep), a new string, or null (remove). */
function secretField(isSet) {
  const input = field(isSet ? "Replace the secret" : "Signing secret (optional)", { type: "password", autocomplete: "new-password", placeholder: isSet ? "New secret" : "", testid: "webhook-form-secret" }, "With a secret, each request is signed (the X-Webhook-Signature header) so the receiver can check it came from here.");
  const remove = isSet ? checkbox("Remove the secret", { testid: "webhook-secret-remove" }) : null;
  const wrap = h(
    "div.secret-field",
    { testid: "webhook-secret" },
    isSet ? h("p.small", { testid: "webhook-secret-set" }, h("span.pill.ok", "Secret set"), " It is never shown; write a new one to replace it.") : null,
    input,
    remove,
  );
  remove?.input.addEventListener("change", () => {
    input.input.disabled = remove.input.checked;
  });
  wrap.input = input.input;
  wrap.value = () => {
    if (remove?.input.checked) return null;
    return input.input.value ? input.input.value : undefined;
  };
  return wrap;
}

/** Custom headers as name/value rows. `.value()` is the headers object (throws on a half-filled row). */
function headerRows(headers) {
  const rows = h("div.header-rows", { testid: "webhook-headers" });
  const add = h("button.btn.btn-small", { type: "button", testid: "webhook-header-add" }, "Add a header");
  const addRow = (name = "", value = "") => {
    const n = h("input", { type: "text", value: name, placeholder: "Name", "aria-label": "Header name", testid: "webhook-header-name", autocomplete: "off" });
    const v = h("input", { type: "text", value, placeholder: "Value", "aria-label": "Header value", testid: "webhook-header-value", autocomplete: "off" });
    const del = h("button.btn.btn-small", { type: "button", testid: "webhook-header-remove", "aria-label": "Remove this header" }, "Remove");
    const row = h("div.header-row", { testid: "webhook-header-row" }, n, v, del);
    del.addEventListener("click", () => row.remove());
    rows.append(row);
    return n;
  };
  for (const [k, v] of Object.entries(headers || {})) addRow(k, v);
  add.addEventListener("click", () => addRow().focus());
  const wrap = h("fieldset.headers-field", { testid: "webhook-form-headers" }, h("legend", "Custom headers"), h("p.small.muted", "Sent with every request, e.g. an Authorization header your receiver expects."), rows, add);
  wrap.value = () => {
    const out = {};
    for (const row of rows.querySelectorAll(".header-row")) {
      const [n, v] = row.querySelectorAll("input");
      const name = n.value.trim();
      if (!name && !v.value.trim()) continue;
      if (!name) throw new Error("Each header needs a name.");
      out[name] = v.value;
    }
    return out;
  };
  return wrap;
}

// The form field a detail of the server's answer is about (the default target answers with instance names).
function fieldFor(key) {
  const k = String(key).replace(/^webhookSettings\./, "");
  if (k === "url" || k === "webhookUrl") return "url";
  if (k === "enabled" || k === "webhookEnabled") return "enabled";
  if (k.startsWith("headers")) return "headers";
  if (k.startsWith("events") || k.startsWith("notify")) return "events";
  if (k === "secret" || k === "webhookSecret") return "secret";
  if (k === "maxRetries" || k === "retryInterval") return k;
  return null;
}

function detailText(value, fallback) {
  if (Array.isArray(value)) return `Not known here: ${value.join(", ")}`;
  if (typeof value === "string" && /\s/.test(value)) return value;
  return fallback;
}

/** Show each detail next to its field; the rest in `status`. True when something was shown. */
function showFieldErrors(fields, details, message, status) {
  if (!details || typeof details !== "object") return false;
  let shown = false;
  let rest = false;
  for (const [key, value] of Object.entries(details)) {
    const name = fieldFor(key);
    const target = name && fields[name];
    if (!target) {
      rest = true;
      continue;
    }
    target.append(h("p.field-error", { testid: "webhook-field-error", dataset: { field: name }, role: "alert" }, detailText(value, message)));
    shown = true;
  }
  if (rest || !shown) clear(status).append(errorBox(message, "webhook-form-error"));
  return true;
}

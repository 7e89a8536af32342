// Create or edit an instance: name, description, webhook settings, usage limits, calls and presence, proxy.

import { api, enc } from "../api.js";
import { meta } from "../meta.js";
import { busy, checkbox, errorBox, field, h } from "../ui.js";

const DEFAULTS = {
  notifyReceived: true,
  notifySent: true,
  notifyDelivery: false,
  notifyRead: false,
  maxRetries: 3,
  retryInterval: 60000,
  secret: "",
  headers: {},
};

export function headersToText(headers) {
  return Object.entries(headers || {})
    .map(([k, v]) => `${k}: ${v}`)
    .join("\n");
}

export function parseHeaders(text) {
  const out = {};
  const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
  for (const [i, line] of lines.entries()) {
    const at = line.indexOf(":");
    if (at <= 0) throw new Error(`headers line ${i + 1}: write it as “Name: value”`);
    out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return out;
}

// The account settings' values when never set (the server's defaults).
const ACCOUNT_DEFAULTS = { rejectCalls: false, rejectCallMessage: null, alwaysOnline: false, syncHistory: true, proxy: null };

/** The account settings that differ from what is stored (a setting never stored counts as its default). */
export function changedSettings(stored, wanted) {
  const out = {};
  for (const [key, value] of Object.entries(wanted)) {
    const current = key in (stored || {}) ? stored[key] : ACCOUNT_DEFAULTS[key];
    if ((current ?? null) !== value) out[key] = value;
  }
  return out;
}

function intOrNull(value, label) {
  if (value === "" || value === null || value === undefined) return null;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${label} must be a whole number of 0 or more`);
  return n;
}

export function render(root, params, { navigate }) {
  const editing = Boolean(params.id);
  const errors = h("div", { testid: "instance-form-errors", dataset: { errorTestid: "form-error" }, "aria-live": "assertive" });
  root.append(
    h("p", h("a", { href: editing ? `#/instances/${enc(params.id)}` : "#/instances" }, "← Back")),
    h("h1", editing ? "Edit instance" : "New instance"),
    errors,
  );
  if (!editing) {
    root.append(build(null));
    return undefined;
  }
  const loading = h("p.muted", "Loading…");
  root.append(loading);
  api
    .get(`/api/instances/${enc(params.id)}`)
    .then((inst) => loading.replaceWith(build(inst)))
    .catch((err) => loading.replaceWith(errorBox(err)));
  return undefined;

  function build(inst) {
    const ws = { ...DEFAULTS, ...(inst?.webhookSettings || {}) };
    const limits = inst?.limits || {};
    const account = inst?.settings || {};
    const f = {
      name: field("Name", { type: "text", required: true, value: inst?.name || "", testid: "instance-name" }),
      description: field("Description", { tag: "textarea", value: inst?.description || "", testid: "instance-description-input" }),
      webhookUrl: field("Webhook URL", { type: "url", placeholder: "https://example.com/webhook", value: inst?.webhookUrl || "", testid: "webhook-url" }),
      webhookEnabled: checkbox("Webhook enabled", { checked: inst ? Boolean(inst.webhookEnabled) : true, testid: "webhook-enabled" }),
      notifyReceived: checkbox("Messages received", { checked: ws.notifyReceived, testid: "notify-received" }),
      notifySent: checkbox("Messages sent", { checked: ws.notifySent, testid: "notify-sent" }),
      notifyDelivery: checkbox("Delivery receipts", { checked: ws.notifyDelivery, testid: "notify-delivery" }),
      notifyRead: checkbox("Read receipts", { checked: ws.notifyRead, testid: "notify-read" }),
      maxRetries: field("Max retries", { type: "number", min: 0, max: 50, step: 1, value: ws.maxRetries, testid: "max-retries" }),
      retryInterval: field("Retry interval (ms)", { type: "number", min: 0, max: 86400000, step: 1, value: ws.retryInterval, testid: "retry-interval" }),
      secret: field(
        "Signing secret",
        { type: "password", autocomplete: "new-password", value: ws.secret || "", testid: "webhook-secret" },
        "Requests then carry X-Webhook-Signature (hex HMAC-SHA256 of the body). Leave empty for none.",
      ),
      headers: field(
        "Custom headers",
        { tag: "textarea", placeholder: "Custom-Header: custom-value", value: headersToText(ws.headers), testid: "webhook-headers" },
        "One per line: Name: value",
      ),
      maxMessagesSent: field("Max messages sent", { type: "number", min: 0, step: 1, value: limits.maxMessagesSent ?? "", testid: "limit-messages" }, "Empty: no limit"),
      maxApiCalls: field("Max API calls", { type: "number", min: 0, step: 1, value: limits.maxApiCalls ?? "", testid: "limit-api-calls" }, "Empty: no limit"),
      period: field("Per", { tag: "select", options: [["day", "day"], ["month", "month"]], value: limits.period || "day", testid: "limit-period" }),
      rejectCalls: checkbox("Reject calls", { checked: Boolean(account.rejectCalls), testid: "reject-calls" }),
      rejectCallMessage: field(
        "Message to send after rejecting",
        { tag: "textarea", maxlength: 1000, value: account.rejectCallMessage || "", placeholder: "Sorry, I can't take calls here. Please write.", testid: "reject-call-message" },
        "Sent to the caller after a call is rejected. Empty: no message.",
      ),
      alwaysOnline: checkbox("Always online", { checked: Boolean(account.alwaysOnline), testid: "always-online" }),
      // WhatsApp pushes past chats when a device is linked; on by default.
      syncHistory: checkbox("Import history on link", { checked: account.syncHistory !== false, testid: "sync-history" }),
      // The server shows the password as ***; sent back unchanged, it keeps the stored one.
      proxy: field(
        "Proxy",
        { type: "text", maxlength: 2000, autocomplete: "off", spellcheck: "false", value: account.proxy || "", placeholder: "socks5://user:password@host:1080", testid: "proxy-url" },
        "Connect this account to WhatsApp through your proxy: http://, https:// or socks5://, with user:password@ if it needs a login. " +
          "The password is kept encrypted and shown as ***; leave it as it is to keep it. Empty: connect directly. " +
          "Saving a new proxy reconnects the account; a linked phone needs no new QR code.",
      ),
    };
    const syncCallMessage = () => {
      f.rejectCallMessage.input.disabled = !f.rejectCalls.input.checked;
    };
    f.rejectCalls.input.addEventListener("change", syncCallMessage);
    syncCallMessage();
    const showSecret = checkbox("Show secret", { testid: "show-secret" });
    showSecret.input.addEventListener("change", () => {
      f.secret.input.type = showSecret.input.checked ? "text" : "password";
    });
    const submit = h("button.btn.btn-primary", { type: "submit", testid: "save-instance" }, editing ? "Save" : "Create instance");
    const form = h(
      "form.card",
      { testid: "instance-form" },
      f.name,
      f.description,
      h(
        "fieldset",
        h("legend", "Webhook"),
        f.webhookUrl,
        f.webhookEnabled,
        h("div.form-grid", h("div", h("p.small.muted", "Notify on"), f.notifyReceived, f.notifySent, f.notifyDelivery, f.notifyRead), h("div", f.maxRetries, f.retryInterval)),
        f.secret,
        showSecret,
        f.headers,
      ),
      h("fieldset", h("legend", "Usage limits"), h("div.form-grid", f.maxMessagesSent, f.maxApiCalls, f.period)),
      h(
        "fieldset",
        { testid: "account-settings" },
        h("legend", "Calls and presence"),
        f.rejectCalls,
        f.rejectCallMessage,
        f.alwaysOnline,
        h("p.small.muted", "Tells WhatsApp the account is online after every connect."),
        f.syncHistory,
        h("p.small.muted", "When a phone is linked, import the past chats WhatsApp sends (they are not sent as webhooks)."),
      ),
      h("fieldset", { testid: "connection-settings" }, h("legend", "Connection"), f.proxy),
      h("div.row.end", h("a.btn", { href: editing ? `#/instances/${enc(inst.id)}` : "#/instances" }, "Cancel"), submit),
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(submit, errors, async () => {
        const settings = {
          notifyReceived: f.notifyReceived.input.checked,
          notifySent: f.notifySent.input.checked,
          notifyDelivery: f.notifyDelivery.input.checked,
          notifyRead: f.notifyRead.input.checked,
          maxRetries: intOrNull(f.maxRetries.input.value, "Max retries") ?? DEFAULTS.maxRetries,
          retryInterval: intOrNull(f.retryInterval.input.value, "Retry interval") ?? DEFAULTS.retryInterval,
          headers: parseHeaders(f.headers.input.value),
        };
        const secret = f.secret.input.value;
        const maxMessagesSent = intOrNull(f.maxMessagesSent.input.value, "Max messages sent");
        const maxApiCalls = intOrNull(f.maxApiCalls.input.value, "Max API calls");
        const limitsBody =
          maxMessagesSent === null && maxApiCalls === null
            ? null
            : { maxMessagesSent, maxApiCalls, period: f.period.input.value };
        const common = {
          name: f.name.input.value.trim(),
          description: f.description.input.value || null,
          webhookUrl: f.webhookUrl.input.value.trim() || null,
          webhookEnabled: f.webhookEnabled.input.checked,
        };
        const accountSettings = changedSettings(account, {
          rejectCalls: f.rejectCalls.input.checked,
          rejectCallMessage: f.rejectCallMessage.input.value.trim() || null,
          alwaysOnline: f.alwaysOnline.input.checked,
          syncHistory: f.syncHistory.input.checked,
          proxy: f.proxy.input.value.trim() || null,
        });
        if (Object.keys(accountSettings).length) common.settings = accountSettings;
        if (editing) {
          await api.put(`/api/instances/${enc(inst.id)}`, {
            ...common,
            webhookSettings: { ...settings, secret: secret || null },
            limits: limitsBody,
          });
          navigate(`/instances/${enc(inst.id)}`);
        } else {
          const body = { ...common, ...settings };
          if (secret) body.webhookSecret = secret;
          if (limitsBody) body.limits = limitsBody;
          const created = await api.post("/api/instances", body);
          navigate(`/instances/${enc(created.id)}`);
        }
      });
    });
    // The server's lengths, so the browser stops typing where the server would refuse (it checks anyway).
    meta()
      .then(({ limits }) => {
        f.name.input.maxLength = limits.maxNameLength;
        f.description.input.maxLength = limits.maxDescriptionLength;
      })
      .catch(() => {});
    return form;
  }
}

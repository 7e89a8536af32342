// The activity log in words for people: a name for each action and one line that says what happened
// ("Connected as +79001112233 (Me)", "Disconnected: cannot reach WhatsApp, retrying"). The raw fields stay
// available behind a "details" disclosure. The list of actions itself comes from GET /api/meta.

import { personLabel } from "./people/profile.js";

export const ACTION_LABELS = {
  created: "Created",
  updated: "Settings changed",
  webhook_updated: "Webhook changed",
  qr_received: "QR code",
  pairing_code_requested: "Pairing code",
  connected: "Connected",
  disconnected: "Disconnected",
  logged_out: "Logged out",
  reconnect_requested: "Reconnect",
  limit_exceeded: "Limit reached",
  call_received: "Call",
  failed: "Failed",
  deleted: "Deleted",
};

// How a connection ended (the `reason` codes), as the server words them.
const REASONS = {
  connect_failed: "cannot reach WhatsApp",
  connection_lost: "the connection to WhatsApp was lost",
  connection_closed: "WhatsApp closed the connection",
  connection_failed: "the connection to WhatsApp failed",
  connect_failure: "WhatsApp refused the connection",
  unresponsive: "WhatsApp stopped answering",
  qr_timeout: "no QR code was scanned in time",
  pair_failed: "linking the phone failed",
  pairing_error: "linking the phone failed",
  client_outdated: "WhatsApp refuses this client version",
  bad_user_agent: "WhatsApp refuses this client",
  temp_banned: "WhatsApp has temporarily banned this number",
  stream_replaced: "another client took over this WhatsApp session",
  logged_out: "the device was unlinked on the phone",
  logged_out_from_phone: "the device was unlinked on the phone",
  main_device_gone: "the phone this device was linked to is gone",
  logout: "logged out from here",
  reconnect_requested: "a reconnect was asked for",
  stopped: "the server stopped it",
};

// Fields of an instance as people call them (the `changed` lists).
const FIELDS = {
  name: "name",
  description: "description",
  limits: "usage limits",
  settings: "calls and presence",
  webhookUrl: "webhook address",
  webhookEnabled: "webhook on/off",
  webhookSettings: "webhook settings",
  notifyReceived: "notify on received",
  notifySent: "notify on sent",
  notifyDelivery: "notify on delivery",
  notifyRead: "notify on read",
  maxRetries: "retries",
  retryInterval: "retry interval",
  secret: "signing secret",
  headers: "custom headers",
};
const LIMITS = { maxMessagesSent: "messages sent", maxApiCalls: "API calls" };

export function actionLabel(action) {
  return ACTION_LABELS[action] || String(action).replace(/_/g, " ");
}

function reason(code) {
  if (!code) return "";
  return REASONS[code] || String(code).replace(/_/g, " ");
}

function fields(list) {
  return (list || []).map((f) => FIELDS[f] || String(f).replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase()).join(", ");
}

function phone(p) {
  return p ? `+${String(p).replace(/\D/g, "")}` : "";
}

/** One line that says what happened. */
export function describe(log) {
  const d = log.details || {};
  switch (log.action) {
    case "created":
      return `Instance “${d.name ?? ""}” created${d.webhookEnabled ? ", webhook on" : ""}${d.limits ? ", with usage limits" : ""}`;
    case "updated":
      return d.changed?.length ? `Changed: ${fields(d.changed)}` : "Settings saved";
    case "webhook_updated": {
      const what = d.webhookUrl ? `Webhook ${d.webhookEnabled === false ? "set (off)" : "on"}: ${d.webhookUrl}` : "Webhook removed";
      return d.changed?.length ? `${what} (changed: ${fields(d.changed)})` : what;
    }
    case "qr_received":
      return d.attempt ? `QR code #${d.attempt} shown, waiting for a scan` : "QR code shown, waiting for a scan";
    case "pairing_code_requested":
      return `Pairing code asked for ${phone(d.phone) || "a phone"}`;
    case "connected":
      return `Connected to WhatsApp${d.phone ? ` as ${phone(d.phone)}` : ""}${d.pushName ? ` (${d.pushName})` : ""}`;
    case "disconnected": {
      const why = reason(d.reason);
      const next = d.willReconnect ? "reconnecting by itself" : "not reconnecting by itself";
      return `Disconnected${why ? `: ${why}` : ""}; ${next}`;
    }
    case "logged_out":
      return `Logged out of WhatsApp${d.reason ? `: ${reason(d.reason)}` : ""}`;
    case "reconnect_requested":
      return "Reconnect asked for";
    case "limit_exceeded": {
      const which = (d.exceededLimits || []).map((k) => `${LIMITS[k] || k}${d.limits?.[k] != null ? ` (${d.limits[k]})` : ""}`);
      return `Usage limit reached${which.length ? `: ${which.join(", ")}` : ""}${d.period ? ` for ${d.period}` : ""}`;
    }
    case "call_received":
      return callWords(d);
    case "failed":
      return `Stopped after repeated errors${d.restarts ? ` (${d.restarts} restarts)` : ""}${d.reason ? `: ${reason(d.reason)}` : ""}`;
    case "deleted":
      return "Instance deleted";
    default:
      return actionLabel(log.action);
  }
}

function callWords(d) {
  if (d.summary) return String(d.summary); // the server's own words
  const who = d.from ? personLabel(d.from) : "an unknown number";
  const kind = d.isVideo ? "Video call" : "Call";
  const group = d.isGroup ? " (group call)" : "";
  let outcome = "";
  if (d.rejected === true) outcome = d.replyMessageId ? ", rejected and answered with a message" : ", rejected";
  else if (d.rejected === false) outcome = ", not rejected";
  return `${kind} from ${who}${group}${outcome}`;
}

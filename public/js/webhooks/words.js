// Words for people about webhooks: event names and their groups, delivery statuses, a target's state. The
// lists themselves come from the server (GET /api/meta); a name this page has no words for shows as it is.

import { fmtDate, fmtTime } from "../ui.js";

const EVENT_LABELS = {
  message_received: "Messages received",
  message_sent: "Messages sent",
  message_status: "Delivery and read receipts",
  message_failed: "Messages that could not be sent",
  message_reaction: "Reactions",
  message_edited: "Edited messages",
  message_revoked: "Deleted messages",
  poll_vote: "Poll votes",
  presence_update: "Typing and online",
  group_joined: "Added to a group",
  group_updated: "Group info changed",
  group_participants: "Group members changed",
  call_received: "Incoming calls",
  connected: "Connected",
  disconnected: "Disconnected",
  logged_out: "Logged out",
  qr_received: "New QR code",
  limit_exceeded: "Usage limit reached",
  webhook_updated: "Webhook settings changed",
  history_sync: "Chat history imported",
  test: "Test event",
};

/** The groups of the event checkboxes, in the order they are shown. */
export const EVENT_GROUPS = [
  ["messages", "Messages"],
  ["receipts", "Receipts and statuses"],
  ["groups", "Groups"],
  ["calls", "Calls"],
  ["connection", "Connection"],
  ["other", "Other"],
];

const DELIVERY_LABELS = { pending: "Waiting", delivered: "Delivered", failed: "Failed", cancelled: "Cancelled" };

function capital(text) {
  const s = String(text).replace(/_/g, " ");
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export function eventLabel(name) {
  return EVENT_LABELS[name] || capital(name);
}

/** Which group an event's checkbox goes in; `m` is the meta document (its group and status event lists). */
export function eventGroup(name, m) {
  if ((m.groupEventTypes || []).includes(name)) return "groups";
  if ((m.statusEventTypes || []).includes(name)) return "connection";
  if (name === "message_status" || name === "presence_update") return "receipts";
  if (name.startsWith("call_")) return "calls";
  if (name.startsWith("group_")) return "groups";
  if (name.startsWith("message_") || name.startsWith("poll_")) return "messages";
  return "other";
}

/** "All events", or a short list: "Messages received, Messages sent +3 more". */
export function eventsSummary(events, shown = 2) {
  const list = events || [];
  if (list.includes("*")) return "All events";
  if (!list.length) return "No events";
  const head = list.slice(0, shown).map(eventLabel).join(", ");
  return list.length > shown ? `${head} +${list.length - shown} more` : head;
}

// The default target's four notify switches, in words.
export const NOTIFY_FLAGS = [
  ["notifyReceived", "Messages received"],
  ["notifySent", "Messages sent"],
  ["notifyDelivery", "Delivery receipts"],
  ["notifyRead", "Read receipts"],
];

/** What the default target gets, from its notify flags. */
export function notifySummary(settings) {
  const on = NOTIFY_FLAGS.filter(([key]) => settings?.[key]).map(([, label]) => label.toLowerCase());
  const always = "connection, group and call events";
  return on.length ? `${capital(on.join(", "))}, and always ${always}` : `Only ${always}`;
}

export function deliveryLabel(status) {
  return DELIVERY_LABELS[status] || capital(status || "unknown");
}

export function deliveryPill(status) {
  if (status === "delivered") return "ok";
  if (status === "failed") return "bad";
  if (status === "pending") return "warn";
  return "";
}

/** A moment as people read it: the time alone when it is today, else the date and time. */
export function when(value) {
  if (!value) return "";
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return d.toDateString() === new Date().toDateString() ? fmtTime(value) : fmtDate(value);
}

/**
 * A target's state for people: {state, label, pill, detail}. The server says `state` (ok, retrying, disabled);
 * without it (an older server) only the enabled flag is known.
 */
export function stateWords(t) {
  const state = t.state || (t.enabled === false ? "disabled" : "on");
  if (!t.url) return { state: "unset", label: "No address", pill: "", detail: "Nothing is sent until an address is set." };
  if (state === "on") return { state, label: "Turned on", pill: "", detail: "" }; // an older server says no more
  if (state === "disabled") return { state, label: "Paused", pill: "", detail: "Turned off: nothing is sent to this address until you turn it back on." };
  if (state === "retrying") {
    const since = t.retryingSince || t.failingSince || t.since;
    const bits = [since ? `Retrying since ${when(since)}` : "Retrying"];
    if (t.nextAttemptAt) bits.push(`next try at ${when(t.nextAttemptAt)}`);
    if (t.lastError) bits.push(`last error: ${t.lastError}`);
    return { state, label: "Retrying", pill: "warn", detail: `${bits.join(" · ")}.` };
  }
  if (state === "ok") return { state, label: "Delivering normally", pill: "ok", detail: "" };
  return { state, label: capital(state), pill: "", detail: "" };
}

const NAME_MAX = 40;

/** A short name for a target: "Default target", or its address without the scheme and the query. */
export function targetName(t) {
  if (t.id === "default") return "Default target";
  let name = t.url || t.id;
  try {
    const u = new URL(t.url);
    name = u.host + (u.pathname === "/" ? "" : u.pathname);
  } catch {
    // not a URL: shown as it is
  }
  return name.length > NAME_MAX ? `${name.slice(0, NAME_MAX - 1)}…` : name;
}

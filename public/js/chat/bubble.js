// One message bubble of the chat view: who wrote it, "Forwarded", the quoted message it replies to, its content
// (text, photo, sticker, voice note, location, contact cards, poll, or "This message was deleted"), the
// reactions under it, and the time with "Edited" and the delivery ticks (✓ sent, ✓✓ delivered, blue ✓✓ read).
// A bubble is redrawn when what it shows changes (a reaction, an edit, a vote), never re-fetching its media.
// A message imported from the phone's history is marked "from history"; its media were not downloaded (WhatsApp
// sends only their description), which the bubble says instead of showing a player that cannot play.

import { api } from "../api.js";
import { busy, clear, errorBox, fmtBytes, fmtDate, fmtTime, h, jidNumber } from "../ui.js";
import { authorOf, contactsBlock, deletedBlock, kindOf, locationBlock, pollBlock, summary, textOf } from "./kinds.js";

const TICKS = {
  pending: ["🕓", "pending"],
  sent: ["✓", "sent"],
  delivered: ["✓✓", "delivered"],
  read: ["✓✓", "read"],
  failed: ["!", "failed"],
};

const MEDIA_KINDS = new Set(["voice", "sticker", "image", "video", "audio", "document"]);

/** Keys of a message that do not change what its bubble shows (the ticks are updated on their own). */
const QUIET_KEYS = new Set(["status", "statusUpdatedAt", "updatedAt"]);

function signature(m, quoted) {
  const shown = {};
  for (const [k, v] of Object.entries(m)) if (!QUIET_KEYS.has(k)) shown[k] = v;
  return JSON.stringify([shown, quoted ? [summary(quoted), authorOf(quoted)] : null]);
}

function ticks(m) {
  if (!m.fromMe) return null;
  const [glyph, label] = TICKS[m.status] || ["", m.status || ""];
  return h(
    `span.ticks.${m.status || "unknown"}`,
    { testid: "message-status", title: label, "aria-label": label },
    h("span.glyph", { "aria-hidden": "true" }, glyph),
    m.status === "read" ? h("span.label.small", { "aria-hidden": "true" }, "read") : null,
  );
}

/** Group reactions by emoji: [{emoji, count, mine, who}] in order of first appearance. */
export function groupReactions(reactions, ownNumber) {
  const groups = new Map();
  for (const r of reactions || []) {
    if (!r || !r.emoji) continue;
    const g = groups.get(r.emoji) || { emoji: r.emoji, count: 0, mine: false, who: [] };
    g.count += 1;
    const mine = Boolean(r.fromMe) || (ownNumber && jidNumber(r.from) === ownNumber);
    g.mine = g.mine || mine;
    g.who.push(mine ? "you" : `+${jidNumber(r.from)}`);
    groups.set(r.emoji, g);
  }
  return [...groups.values()];
}

function reactionsRow(m, env) {
  const groups = groupReactions(m.reactions, env.ownNumber());
  if (!groups.length) return null;
  return h(
    "div.reactions",
    { testid: "message-reactions", "aria-label": "Reactions" },
    groups.map((g) =>
      h(
        `span.reaction${g.mine ? ".mine" : ""}`,
        { testid: "reaction", dataset: { emoji: g.emoji, count: String(g.count) }, title: `${g.emoji} from ${g.who.join(", ")}` },
        h("span", { "aria-hidden": "true" }, g.emoji),
        h("span.count", String(g.count)),
        h("span.visually-hidden", ` from ${g.who.join(", ")}`),
      ),
    ),
  );
}

function quoteNode(m, env) {
  const original = env.lookup(m.quotedMessageId);
  const node = h(
    "button.quote",
    {
      type: "button",
      testid: "message-quote",
      dataset: { quotedId: m.quotedMessageId },
      title: original ? "Show the message this replies to" : "The message this replies to is not loaded here",
    },
    h("span.quote-author", original ? authorOf(original) : "Reply"),
    h("span.quote-text", original ? summary(original) : "A message not shown here"),
  );
  node.addEventListener("click", () => env.scrollTo(m.quotedMessageId));
  return node;
}

/** Photo, sticker, voice note or audio player, or a download button; fetched with the session's token. */
export function mediaNode(m, env) {
  const kind = kindOf(m);
  const label = m.fileName || m.messageType || "media";
  if (m.metadata?.mediaDownloaded === false && !m.mediaUrl) {
    return h(
      "div.media-missing",
      { testid: "media-not-downloaded", title: "WhatsApp did not send this file to the instance, only its description" },
      h("span", summary({ ...m, content: null, caption: null }) || label),
      m.mediaSize ? h("span.small.muted", ` · ${fmtBytes(m.mediaSize)}`) : null,
      h("div.small.muted", "media not downloaded"),
    );
  }
  if (!m.mediaUrl) return h("div.small.muted", { testid: "message-media-missing" }, `[${summary(m) || label}]`);
  const load = (el, attr = "src") => {
    api
      .get(m.mediaUrl, { as: "blob" })
      .then(({ blob }) => {
        el[attr] = env.blobUrl(blob);
      })
      .catch((err) => el.replaceWith(errorBox(err, "media-error")));
    return el;
  };
  if (kind === "sticker") return load(h("img.sticker", { alt: "Sticker", testid: "message-sticker" }));
  if (kind === "image") return load(h("img.media", { alt: m.caption || label, testid: "message-image" }));
  if (kind === "voice" || kind === "audio") {
    const audio = load(h("audio", { controls: true, preload: "metadata", testid: "message-audio" }));
    return h(
      `div.${kind}`,
      { testid: kind === "voice" ? "message-voice" : "message-audio-file" },
      h("div.small.muted", kind === "voice" ? "🎤 Voice message" : `🎵 ${m.fileName || "Audio"}`),
      audio,
    );
  }
  const btn = h("button.btn.btn-small", { type: "button", testid: "message-download" }, `Download ${label}`);
  btn.addEventListener("click", () =>
    busy(btn, null, async () => {
      const { blob } = await api.get(m.mediaUrl, { as: "blob" });
      const url = URL.createObjectURL(blob);
      const a = h("a", { href: url, download: m.fileName || "download" });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    }),
  );
  return btn;
}

function content(m, env, li) {
  const kind = kindOf(m);
  const parts = [];
  if (kind === "deleted") return [deletedBlock()];
  if (m.forwarded) parts.push(h("div.forwarded.small", { testid: "message-forwarded" }, h("span", { "aria-hidden": "true" }, "↪ "), "Forwarded"));
  if (m.quotedMessageId) parts.push(quoteNode(m, env));
  if (kind === "location" && m.location) parts.push(locationBlock(m.location));
  else if (kind === "contact" && m.contacts?.length) parts.push(contactsBlock(m.contacts, env.chatHref));
  else if (kind === "poll" && m.poll) parts.push(pollBlock(m.poll));
  else if (["location", "contact", "poll"].includes(kind)) parts.push(h("div", { testid: "message-text" }, summary(m)));
  else if (m.hasMedia || m.mediaUrl || MEDIA_KINDS.has(kind)) {
    // Keep the loaded media element across redraws (an edit of the caption must not fetch it again).
    if (!li.media) li.media = mediaNode(m, env);
    parts.push(li.media);
  }
  const text = textOf(m);
  if (text) parts.push(h("div.text", { testid: "message-text" }, text));
  return parts;
}

/**
 * A bubble for message `m`. env: lookup(messageId), ownNumber(), chatHref(phone), scrollTo(messageId),
 * blobUrl(blob), actions(li) → the actions button (or null).
 */
export function bubble(m, env) {
  const li = h(`li.msg${m.fromMe ? ".out" : ".in"}`, { testid: "message" });
  const body = h("div.msg-body");
  const meta = h("div.meta");
  const actions = env.actions ? env.actions(li) : null;
  li.append(body, meta);
  if (actions) li.append(actions);
  li.update = (msg) => {
    li.message = msg;
    const kind = kindOf(msg);
    li.dataset.messageId = msg.messageId || msg.id || "";
    li.dataset.status = msg.status || "";
    li.dataset.fromMe = String(Boolean(msg.fromMe));
    li.dataset.kind = kind;
    li.dataset.history = String(Boolean(msg.history));
    li.classList.toggle("revoked", kind === "deleted");
    li.classList.toggle("sticker-msg", kind === "sticker");
    const sig = signature(msg, msg.quotedMessageId ? env.lookup(msg.quotedMessageId) : null);
    if (sig !== li.sig) {
      li.sig = sig;
      if (kind === "deleted") li.media = null;
      const sender = !msg.fromMe && (msg.pushName || msg.metadata?.pushName);
      clear(body).append(
        ...[sender ? h("div.small.muted.sender", sender) : null, ...content(msg, env, li), reactionsRow(msg, env)].filter(Boolean),
      );
      clear(meta).append(
        ...[
          msg.history
            ? h("span.history-mark", { testid: "message-history", title: "Imported from the phone's history when the instance was linked" }, "from history")
            : null,
          msg.edited && kind !== "deleted"
            ? h("span.edited", { testid: "message-edited", title: msg.editedAt ? `Edited ${fmtDate(msg.editedAt)}` : "Edited" }, "Edited")
            : null,
          h("time", { datetime: msg.createdAt || "" }, fmtTime(msg.createdAt || msg.metadata?.timestamp)),
        ].filter(Boolean),
      );
    }
    meta.querySelector(".ticks")?.remove();
    const t = ticks(msg);
    if (t) meta.append(t);
  };
  li.update(m);
  return li;
}

// What a message is, in words for people: its kind, a one-line summary (chat list, quotes, "Replying to"),
// and the content blocks of the richer kinds (location, contact cards, poll, deleted).

import { h, jidNumber } from "../ui.js";

const KIND_BY_TYPE = {
  voice: "voice",
  sticker: "sticker",
  stickerMessage: "sticker",
  location: "location",
  locationMessage: "location",
  contact: "contact",
  contactMessage: "contact",
  contactsArrayMessage: "contact",
  poll: "poll",
  pollCreationMessage: "poll",
  image: "image",
  video: "video",
  audio: "audio",
  document: "document",
};

/** deleted | location | contact | poll | voice | sticker | image | video | audio | document | text */
export function kindOf(m) {
  if (m.revoked) return "deleted";
  if (m.location) return "location";
  if (Array.isArray(m.contacts) && m.contacts.length) return "contact";
  if (m.poll) return "poll";
  if (m.ptt) return "voice";
  const byType = KIND_BY_TYPE[m.messageType] || KIND_BY_TYPE[m.type];
  if (byType && byType !== "audio") return byType;
  const mime = m.mimeType || "";
  if (byType === "audio" || mime.startsWith("audio/")) return "audio";
  if (!m.hasMedia) return "text";
  if (mime.startsWith("image/")) return "image";
  if (mime.startsWith("video/")) return "video";
  return "document";
}

/** The message's text as shown in its bubble (null for kinds that show something else). */
export function textOf(m) {
  const kind = kindOf(m);
  if (kind === "deleted" || kind === "poll" || kind === "location" || kind === "contact") return null;
  return m.content ?? m.caption ?? (m.hasMedia ? null : m.body) ?? null;
}

function clip(text, max = 90) {
  const s = String(text ?? "").replace(/\s+/g, " ").trim();
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** One line that tells what the message is: "📍 Berlin", "📊 Lunch?", "🎤 Voice message", the text itself … */
export function summary(m) {
  if (!m) return "";
  const kind = kindOf(m);
  const text = clip(m.content ?? m.caption ?? m.body ?? "");
  switch (kind) {
    case "deleted":
      return "This message was deleted";
    case "location":
      return `📍 ${clip(m.location?.name || m.location?.address || "") || "Location"}`;
    case "contact": {
      const names = (m.contacts || []).map((c) => c.name || c.phone).filter(Boolean);
      return `👤 ${clip(names.join(", ")) || "Contact card"}`;
    }
    case "poll":
      return `📊 ${clip(m.poll?.question || text) || "Poll"}`;
    case "voice":
      return "🎤 Voice message";
    case "sticker":
      return "Sticker";
    case "image":
      return `📷 ${text || "Photo"}`;
    case "video":
      return `🎬 ${text || "Video"}`;
    case "audio":
      return `🎵 ${text || m.fileName || "Audio"}`;
    case "document":
      return `📄 ${clip(m.fileName || text) || "File"}`;
    default:
      return text;
  }
}

/** Who wrote the message, for quotes and the reply bar. */
export function authorOf(m) {
  if (!m) return "";
  if (m.fromMe) return "You";
  return m.pushName || m.metadata?.pushName || `+${jidNumber(m.sender || m.remoteJid)}`;
}

function fixed(n) {
  return Number(n).toFixed(5);
}

export function locationBlock(loc) {
  const lat = Number(loc.latitude);
  const lon = Number(loc.longitude);
  const map = `https://www.openstreetmap.org/?mlat=${fixed(lat)}&mlon=${fixed(lon)}#map=16/${fixed(lat)}/${fixed(lon)}`;
  return h(
    "div.location",
    { testid: "message-location" },
    h("div", h("span", { "aria-hidden": "true" }, "📍 "), h("strong", loc.name || "Location")),
    loc.address ? h("div.small", loc.address) : null,
    h("div.small.mono", { testid: "location-coords" }, `${fixed(lat)}, ${fixed(lon)}`),
    h(
      "a.small",
      { href: map, target: "_blank", rel: "noopener noreferrer", testid: "location-link" },
      "Open in OpenStreetMap",
    ),
  );
}

export function contactsBlock(contacts, chatHref) {
  return h(
    "ul.contact-cards",
    { testid: "message-contacts" },
    contacts.map((c) => {
      const phone = String(c.phone || "").replace(/\D/g, "");
      return h(
        "li.contact-card",
        { testid: "contact-card", dataset: { phone } },
        h("span.avatar", { "aria-hidden": "true" }, "👤"),
        h(
          "div",
          h("strong", { testid: "contact-card-name" }, c.name || (phone ? `+${phone}` : "Contact")),
          phone ? h("div.small", { testid: "contact-card-phone" }, `+${phone}`) : null,
          phone ? h("a.small", { href: chatHref(phone), testid: "contact-card-chat" }, "Message") : null,
        ),
      );
    }),
  );
}

export function pollBlock(poll) {
  const votes = poll.votes || {};
  const options = poll.options || [];
  const total = options.reduce((n, o) => n + (Number(votes[o]) || 0), 0);
  const several = (poll.selectableCount ?? 1) !== 1;
  return h(
    "div.poll",
    { testid: "message-poll" },
    h("div", h("span", { "aria-hidden": "true" }, "📊 "), h("strong", { testid: "poll-question" }, poll.question || "Poll")),
    h("div.small.muted", several ? "Select one or more" : "Select one"),
    h(
      "ul.poll-options",
      options.map((option) => {
        const count = Number(votes[option]) || 0;
        return h(
          "li",
          { testid: "poll-option", dataset: { option, votes: String(count) } },
          h(
            "div.row.between",
            h("span", option),
            h("span.small.muted", { testid: "poll-count" }, count === 1 ? "1 vote" : `${count} votes`),
          ),
          h("meter", { min: 0, max: Math.max(total, 1), value: count, "aria-label": `${option}: ${count} of ${total}` }),
        );
      }),
    ),
    h("div.small.muted", { testid: "poll-total" }, total === 1 ? "1 vote in all" : `${total} votes in all`),
  );
}

export function deletedBlock() {
  return h("p.deleted", { testid: "message-deleted" }, h("span", { "aria-hidden": "true" }, "🚫 "), "This message was deleted");
}

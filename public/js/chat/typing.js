// Typing indicators, both ways: "typing…" / "recording audio…" under the chat title while the other side's
// `presence_update` says so (for a few seconds, unless renewed), and our own `typing` presence while the user
// types in the composer (at most every few seconds), then `paused` when they stop.

import { api, enc } from "../api.js";
import { h, jidNumber } from "../ui.js";

const SHOW_MS = 6000; // WhatsApp renews "composing" every few seconds while someone types
const STALE_MS = 15000;
const SEND_EVERY_MS = 4000;
const PAUSE_AFTER_MS = 3000;
const LABELS = { typing: "typing…", recording: "recording audio…" };

function sameChat(a, b) {
  return Boolean(a && b) && (a === b || jidNumber(a) === jidNumber(b));
}

/** The "typing…" line of the open chat; feed it the live events. */
export function typingIndicator(chatId) {
  const node = h("p.typing.small", { testid: "typing-indicator", "aria-live": "polite", hidden: true });
  let timer = null;
  const hide = () => {
    clearTimeout(timer);
    node.hidden = true;
    node.textContent = "";
    delete node.dataset.state;
  };
  return {
    node,
    handle(events) {
      for (const e of events) {
        const d = e.data || {};
        if (e.type === "message_received" && !d.fromMe && sameChat(d.chatId ?? d.remoteJid, chatId)) hide();
        if (e.type !== "presence_update" || !sameChat(d.chatId ?? d.chat_jid, chatId)) continue;
        // The feed starts with recent history: a "typing" from a while ago is over.
        if (Date.now() - Date.parse(e.timestamp || "") > STALE_MS) continue;
        const label = LABELS[d.state];
        if (!label) {
          hide();
          continue;
        }
        clearTimeout(timer);
        node.textContent = label;
        node.dataset.state = d.state;
        node.hidden = false;
        timer = setTimeout(hide, SHOW_MS);
      }
    },
    stop: hide,
  };
}

/** Sends our presence in the chat: call typed() on every keystroke, stop() when leaving the chat. */
export function presenceSender(instanceId, chatId) {
  let typing = false;
  let lastSent = 0;
  let pauseTimer = null;
  const send = (state) =>
    api.post(`/api/whatsapp/${enc(instanceId)}/presence`, { phone: chatId, state }).catch(() => {
      // Presence is a courtesy: a disconnected instance or a refused state must not bother the user.
    });
  const pause = () => {
    clearTimeout(pauseTimer);
    if (!typing) return;
    typing = false;
    lastSent = 0;
    send("paused");
  };
  return {
    typed() {
      const now = Date.now();
      if (!typing || now - lastSent >= SEND_EVERY_MS) {
        typing = true;
        lastSent = now;
        send("typing");
      }
      clearTimeout(pauseTimer);
      pauseTimer = setTimeout(pause, PAUSE_AFTER_MS);
    },
    pause,
    stop: pause,
  };
}

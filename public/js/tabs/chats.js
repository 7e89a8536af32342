// Chats: the chat list and one chat's history, updated live from the event feed (with a slow safety poll).
// The bubbles (every message kind, reactions, edits, deletions) are drawn by ../chat/bubble.js, the menu on a
// message by ../chat/actions.js, the composer by ../chat/composer.js, typing indicators by ../chat/typing.js.

import { api, enc } from "../api.js";
import { actionsButton } from "../chat/actions.js";
import { bubble } from "../chat/bubble.js";
import { createComposer } from "../chat/composer.js";
import { summary } from "../chat/kinds.js";
import { createSearch } from "../chat/search.js";
import { presenceSender, typingIndicator } from "../chat/typing.js";
import { openProfile } from "../people/profile.js";
import { clear, confirmDialog, errorBox, field, fmtDate, h, jidNumber, toast } from "../ui.js";

const SAFETY_POLL_MS = 5000;
const SAFETY_POLL_STREAMING_MS = 30000;
// The live events that change what history shows (presence_update does not: it is never stored).
const HISTORY_EVENTS = /^(message_|poll_vote$)/;

export function render(root, ctx) {
  const chatId = ctx.sub;
  const listBox = h("div", { testid: "chat-list-box", "aria-live": "polite" });
  const newChat = field("Open a chat with", { type: "text", inputmode: "tel", placeholder: "79001234567", testid: "new-chat-phone" });
  const newChatForm = h("form", { testid: "new-chat-form" }, newChat, h("button.btn.btn-small", { type: "submit" }, "Open"));
  newChatForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const v = newChat.input.value.trim();
    if (v) ctx.navigate(`/instances/${enc(ctx.id)}/chats/${enc(v)}`);
  });
  const side = h("aside.card", { "aria-label": "Chats" }, h("h2", "Chats"), listBox, newChatForm);
  const view = h("section.card", { testid: "chat-view", "aria-label": "Messages" });
  root.append(h(`div.chat-layout${chatId ? ".has-chat" : ""}`, side, view));

  let stopped = false;
  let timer = null;
  let debounce = null;
  const blobUrls = [];
  const chatHref = (phone) => `#/instances/${enc(ctx.id)}/chats/${enc(phone)}`;

  // --- chat list ---------------------------------------------------------------------------------
  async function loadChats() {
    try {
      const res = await api.get(`/api/instances/${enc(ctx.id)}/chats`);
      if (stopped) return;
      const chats = res.chats || [];
      clear(listBox);
      if (!chats.length) {
        listBox.append(h("p.muted", { testid: "chats-empty" }, "No chats yet."));
        return;
      }
      listBox.append(
        h(
          "ul.chat-list",
          { testid: "chat-list" },
          chats.map((c) => {
            const id = c.chatId || c.remoteJid;
            const last = c.lastMessage || {};
            const current = chatId && (chatId === id || chatId === c.remoteJid || jidNumber(c.remoteJid) === jidNumber(chatId));
            if (current && c.name && chatTitle) chatTitle.textContent = c.isGroup ? c.name : `${c.name} · +${jidNumber(c.remoteJid || id)}`;
            // The open chat is being read: it shows no unread count (its read receipts are on their way).
            const unread = current ? 0 : c.unreadCount;
            return h(
              "li",
              h(
                "a",
                {
                  href: chatHref(id),
                  testid: "chat-item",
                  dataset: { chatId: id, remoteJid: c.remoteJid || "" },
                  "aria-current": current ? "true" : null,
                },
                h(
                  "div.row.between",
                  h("strong", c.name || (c.isGroup ? "Group without a name" : `+${jidNumber(c.remoteJid || id)}`)),
                  unread ? h("span.unread", { testid: "chat-unread", "aria-label": `${unread} unread` }, String(unread)) : null,
                ),
                h("div.preview", `${last.fromMe ? "You: " : ""}${summary(last)}`),
                h("div.small.muted", fmtDate(c.updatedAt)),
              ),
            );
          }),
        ),
      );
    } catch (err) {
      if (!stopped) clear(listBox).append(errorBox(err, "chats-error"));
    }
  }

  // --- one chat ------------------------------------------------------------------------------------
  const items = new Map(); // row id -> bubble
  const byMessageId = new Map(); // WhatsApp message id -> the message as history last showed it
  let messagesList = null;
  let messagesError = null;
  let chatTitle = null;
  let composer = null;
  let typing = null;
  let presence = null;

  // Our own number marks our reactions; the instance may still be loading when the first messages show.
  let own = jidNumber(ctx.instance?.phone || "");
  const ownNumber = () => own;
  ctx.ready?.then(
    (inst) => {
      const number = jidNumber(inst?.phone || "");
      if (stopped || number === own) return;
      own = number;
      for (const li of items.values()) {
        li.sig = null;
        li.update(li.message);
      }
    },
    () => {},
  );

  function scrollTo(messageId) {
    const li = messagesList?.querySelector(`[data-testid="message"][data-message-id="${CSS.escape(messageId)}"]`);
    if (!li) {
      toast("The original message is not loaded here (only the latest 100 are).");
      return;
    }
    li.scrollIntoView({ block: "center", behavior: "smooth" });
    li.classList.remove("flash");
    void li.offsetWidth; // restart the highlight
    li.classList.add("flash");
    li.addEventListener("animationend", () => li.classList.remove("flash"), { once: true });
  }

  const handlers = {
    ownNumber,
    reply: (m) => composer.reply(m),
    edit: (m) => composer.edit(m),
    react: (m, emoji) =>
      composer.run(null, async () => {
        await api.post(`/api/whatsapp/${enc(ctx.id)}/messages/${enc(m.messageId)}/react`, { emoji });
        await loadMessages();
      }),
    remove: async (m) => {
      if (!(await confirmDialog(`Delete this message for everyone? “${summary(m)}”`, "Delete for everyone"))) return;
      await composer.run(null, async () => {
        await api.del(`/api/whatsapp/${enc(ctx.id)}/messages/${enc(m.messageId)}`);
        await loadMessages();
      });
    },
  };

  const env = {
    lookup: (id) => (id ? byMessageId.get(id) : undefined),
    ownNumber,
    chatHref,
    scrollTo,
    blobUrl(blob) {
      const url = URL.createObjectURL(blob);
      blobUrls.push(url);
      return url;
    },
    actions: (li) => actionsButton(li, handlers),
  };

  // The history opens at its newest message and stays there as messages arrive (and as their pictures load),
  // unless you scrolled up to read: then "New messages" offers the way back down.
  let stick = true;
  let jump = null;
  const nearBottom = () => messagesList.scrollHeight - messagesList.scrollTop - messagesList.clientHeight < 40;
  function toBottom() {
    messagesList.scrollTop = messagesList.scrollHeight;
    stick = true;
    jump.hidden = true;
  }

  function buildChatView() {
    chatTitle = h("h2", { testid: "chat-title" }, chatId.includes("@g.us") ? "Group" : `+${jidNumber(chatId)}`);
    typing = typingIndicator(chatId);
    presence = presenceSender(ctx.id, chatId);
    messagesError = h("div", { testid: "messages-errors" });
    messagesList = h("ol.messages", { testid: "messages", "aria-label": "Messages, oldest first", tabindex: 0 });
    jump = h("button.btn.btn-small.jump-latest", { type: "button", testid: "jump-to-latest", hidden: true }, "↓ New messages");
    jump.addEventListener("click", toBottom);
    let seenHeight = 0;
    messagesList.addEventListener(
      "scroll",
      () => {
        // A scroll because the content grew (a picture loaded) is no scroll of yours: stay where you were.
        if (messagesList.scrollHeight !== seenHeight) {
          seenHeight = messagesList.scrollHeight;
          if (stick) {
            toBottom();
            return;
          }
        }
        stick = nearBottom();
        if (stick) jump.hidden = true;
      },
      { passive: true },
    );
    // Media load after their bubble: keep the bottom in view while they grow (load events do not bubble).
    for (const type of ["load", "loadedmetadata"]) messagesList.addEventListener(type, () => stick && toBottom(), true);
    const search = createSearch({
      instanceId: ctx.id,
      chatId,
      env: { ...env, actions: null },
      onToggle(active) {
        messagesWrap.hidden = active;
        if (!active && stick) toBottom();
      },
      show(messageId) {
        const shown = messagesList.querySelector(`[data-testid="message"][data-message-id="${CSS.escape(messageId)}"]`);
        if (shown) requestAnimationFrame(() => scrollTo(messageId));
        else toast("That message is older than the latest 100 shown in the chat.");
      },
    });
    const messagesWrap = h("div.messages-wrap", messagesList, jump);
    composer = createComposer({
      instanceId: ctx.id,
      chatId,
      presence,
      sent: async () => {
        await loadMessages(true);
        loadChats();
      },
    });
    view.append(
      h("div.chat-head", chatTitle, typing.node, h("span.spacer"), search.form, chatDetails()),
      messagesError,
      search.box,
      messagesWrap,
      composer.node,
    );
  }

  // The person's WhatsApp profile, or the group's panel.
  function chatDetails() {
    if (chatId.includes("@g.us")) return h("a.btn.btn-small", { href: `#/instances/${enc(ctx.id)}/groups/${enc(chatId)}`, testid: "chat-group-info" }, "Group info");
    const button = h("button.btn.btn-small", { type: "button", testid: "chat-profile" }, "Profile");
    button.addEventListener("click", () => openProfile(ctx.id, chatId));
    return button;
  }

  let lastReadMark = null;

  async function loadMessages(scrollToEnd = false) {
    if (!chatId) return;
    try {
      const res = await api.get(`/api/instances/${enc(ctx.id)}/chats/${enc(chatId)}/messages`, { query: { limit: 100 } });
      if (stopped) return;
      clear(messagesError);
      const list = (res.messages || []).slice().reverse(); // the API answers newest first
      const newestIncoming = [...list].reverse().find((m) => !m.fromMe);
      const readMark = newestIncoming ? `${chatId}:${newestIncoming.messageId}` : null;
      if (readMark && readMark !== lastReadMark) {
        // The chat is on screen: what arrived counts as read (resets the chat's unreadCount), once per new message.
        lastReadMark = readMark;
        api
          .post(`/api/instances/${enc(ctx.id)}/chats/${enc(chatId)}/read`)
          .then(() => !stopped && loadChats())
          .catch(() => {});
      }
      if (scrollToEnd) stick = true; // what you just sent
      let added = 0;
      if (!list.length && !items.size) {
        clear(messagesList).append(h("li.muted", { testid: "messages-empty" }, "No messages in this chat yet."));
      } else {
        messagesList.querySelector('[data-testid="messages-empty"]')?.remove();
      }
      // Every message first, so a reply's quote finds its original wherever it is in the list.
      for (const m of list) if (m.messageId) byMessageId.set(m.messageId, m);
      // In the server's order (by time): a message dated earlier (history) goes where it belongs, not last.
      let prev = null;
      for (const m of list) {
        const key = m.id || m.messageId;
        let li = items.get(key);
        if (li) li.update(m);
        else {
          li = bubble(m, env);
          items.set(key, li);
          added += 1;
        }
        if (prev ? prev.nextElementSibling !== li : !li.parentElement) {
          if (prev) prev.after(li);
          else messagesList.prepend(li);
        }
        prev = li;
      }
      if (stick) toBottom();
      else if (added) jump.hidden = false;
    } catch (err) {
      if (!stopped) clear(messagesError).append(errorBox(err, "messages-error"));
    }
  }

  async function refreshAll() {
    clearTimeout(timer);
    await Promise.all([loadChats(), loadMessages()]);
    if (!stopped) timer = setTimeout(refreshAll, ctx.live.every(SAFETY_POLL_MS, SAFETY_POLL_STREAMING_MS));
  }

  if (chatId) buildChatView();
  else view.append(h("p.muted", { testid: "no-chat-selected" }, "Choose a chat, or open one by phone number."));

  const off = ctx.live.on((events) => {
    if (typing) typing.handle(events);
    if (!events.some((e) => HISTORY_EVENTS.test(String(e.type)))) return;
    clearTimeout(debounce);
    debounce = setTimeout(refreshAll, 150);
  });
  refreshAll();

  return () => {
    stopped = true;
    clearTimeout(timer);
    clearTimeout(debounce);
    off();
    typing?.stop();
    presence?.stop();
    for (const url of blobUrls) URL.revokeObjectURL(url);
  };
}

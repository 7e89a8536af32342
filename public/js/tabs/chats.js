// Chats: the chat list and one chat's history with delivery status (✓ sent, ✓✓ delivered, blue ✓✓ read),
// updated live from the event feed (with a slow safety poll).

import { api, enc } from "../api.js";
import { busy, clear, errorBox, field, fmtDate, fmtTime, h, jidNumber } from "../ui.js";

const SAFETY_POLL_MS = 5000;
const SAFETY_POLL_STREAMING_MS = 30000;
const TICKS = {
  pending: ["🕓", "pending"],
  sent: ["✓", "sent"],
  delivered: ["✓✓", "delivered"],
  read: ["✓✓", "read"],
  failed: ["!", "failed"],
};

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
            if (current && c.name && chatTitle) chatTitle.textContent = `${c.name} · +${jidNumber(c.remoteJid || id)}`;
            return h(
              "li",
              h(
                "a",
                {
                  href: `#/instances/${enc(ctx.id)}/chats/${enc(id)}`,
                  testid: "chat-item",
                  dataset: { chatId: id, remoteJid: c.remoteJid || "" },
                  "aria-current": current ? "true" : null,
                },
                h(
                  "div.row.between",
                  h("strong", c.name || `+${jidNumber(c.remoteJid || id)}`),
                  c.unreadCount ? h("span.unread", { "aria-label": `${c.unreadCount} unread` }, String(c.unreadCount)) : null,
                ),
                h("div.preview", `${last.fromMe ? "You: " : ""}${last.content ?? last.caption ?? (last.hasMedia ? `[${last.messageType || "media"}]` : "")}`),
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
  const items = new Map();
  let messagesList = null;
  let messagesError = null;
  let chatTitle = null;

  function buildChatView() {
    const title = h("h2", { testid: "chat-title" }, chatId.includes("@g.us") ? chatId : `+${jidNumber(chatId)}`);
    chatTitle = title;
    messagesError = h("div", { testid: "messages-errors" });
    messagesList = h("ol.messages", { testid: "messages", "aria-label": "Messages, oldest first", tabindex: 0 });
    const input = h("textarea", { id: "composer-text", rows: 2, required: true, testid: "composer-input", placeholder: "Type a message" });
    const sendBtn = h("button.btn.btn-primary", { type: "submit", testid: "composer-send" }, "Send");
    const composerErr = h("div", { testid: "composer-errors", dataset: { errorTestid: "composer-error" } });
    const composer = h(
      "form",
      { testid: "composer" },
      h("label", { for: "composer-text" }, "Message"),
      input,
      composerErr,
      h("div.row.end", sendBtn),
    );
    input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) composer.requestSubmit();
    });
    composer.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(sendBtn, composerErr, async () => {
        await api.post(`/api/whatsapp/${enc(ctx.id)}/send`, { phone: chatId, message: input.value });
        input.value = "";
        await loadMessages(true);
        loadChats();
      });
    });
    view.append(title, messagesError, messagesList, composer);
  }

  function tickFor(m) {
    if (!m.fromMe) return null;
    const [glyph, label] = TICKS[m.status] || ["", m.status || ""];
    return h(
      `span.ticks.${m.status || "unknown"}`,
      { testid: "message-status", title: label, "aria-label": label },
      h("span.glyph", { "aria-hidden": "true" }, glyph),
      m.status === "read" ? h("span.label.small", { "aria-hidden": "true" }, "read") : null,
    );
  }

  function bubble(m) {
    const li = h(`li.msg${m.fromMe ? ".out" : ".in"}`, { testid: "message" });
    li.update = (msg) => {
      li.dataset.messageId = msg.messageId || msg.id || "";
      li.dataset.status = msg.status || "";
      li.dataset.fromMe = String(Boolean(msg.fromMe));
      if (!li.built) {
        li.built = true;
        if (!msg.fromMe && msg.metadata?.pushName) li.append(h("div.small.muted", msg.metadata.pushName));
        if (msg.hasMedia) li.append(mediaNode(msg));
        const text = msg.content ?? msg.caption ?? (msg.hasMedia ? null : msg.body);
        if (text) li.append(h("div", { testid: "message-text" }, text));
        li.meta = h("div.meta", h("time", { datetime: msg.createdAt || "" }, fmtTime(msg.createdAt || msg.metadata?.timestamp)));
        li.append(li.meta);
      }
      li.meta.querySelector(".ticks")?.remove();
      const t = tickFor(msg);
      if (t) li.meta.append(t);
    };
    li.update(m);
    return li;
  }

  function mediaNode(m) {
    const label = m.fileName || m.messageType || "media";
    if (!m.mediaUrl) return h("div.small.muted", `[${label}]`);
    if ((m.mimeType || "").startsWith("image/")) {
      const img = h("img.media", { alt: m.caption || label, testid: "message-image" });
      api
        .get(m.mediaUrl, { as: "blob" })
        .then(({ blob }) => {
          const url = URL.createObjectURL(blob);
          blobUrls.push(url);
          img.src = url;
        })
        .catch((err) => img.replaceWith(errorBox(err, "media-error")));
      return img;
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
        api.post(`/api/instances/${enc(ctx.id)}/chats/${enc(chatId)}/read`).catch(() => {});
      }
      const atBottom = messagesList.scrollHeight - messagesList.scrollTop - messagesList.clientHeight < 40;
      if (!list.length && !items.size) {
        clear(messagesList).append(h("li.muted", { testid: "messages-empty" }, "No messages in this chat yet."));
      } else {
        messagesList.querySelector('[data-testid="messages-empty"]')?.remove();
      }
      for (const m of list) {
        const key = m.id || m.messageId;
        let li = items.get(key);
        if (li) li.update(m);
        else {
          li = bubble(m);
          items.set(key, li);
          messagesList.append(li);
        }
      }
      if (scrollToEnd || atBottom) messagesList.scrollTop = messagesList.scrollHeight;
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
    if (!events.some((e) => String(e.type).startsWith("message"))) return;
    clearTimeout(debounce);
    debounce = setTimeout(refreshAll, 150);
  });
  refreshAll().then(() => {
    if (messagesList) messagesList.scrollTop = messagesList.scrollHeight;
  });

  return () => {
    stopped = true;
    clearTimeout(timer);
    clearTimeout(debounce);
    off();
    for (const url of blobUrls) URL.revokeObjectURL(url);
  };
}

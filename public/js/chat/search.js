// Search in one chat: a search box in the chat's header; while it holds text, the matching messages (their
// text or caption, any case: `GET …/chats/{chatId}/messages?search=`) replace the history, newest first, with
// the words found marked. "Show in chat" closes the search and takes you to the message.

import { api, enc } from "../api.js";
import { clear, errorBox, h } from "../ui.js";
import { bubble } from "./bubble.js";

const WAIT_MS = 300; // after the last keystroke
const LIMIT = 50;

/**
 * opts: instanceId, chatId, env (the bubbles' env, without actions), onToggle(active), show(messageId).
 * Returns {form, box, close()}.
 */
export function createSearch({ instanceId, chatId, env, onToggle, show }) {
  const input = h("input", { type: "search", id: "chat-search", testid: "chat-search", placeholder: "Search this chat", autocomplete: "off", maxlength: 200 });
  const form = h("form.chat-search", { role: "search", testid: "chat-search-form" }, h("label.visually-hidden", { for: "chat-search" }, "Search this chat"), input);
  const status = h("p.small.muted", { testid: "search-status", "aria-live": "polite" });
  const list = h("ol.messages.search-results", { testid: "search-results", "aria-label": "Messages found, newest first", tabindex: 0 });
  const box = h("div.search-box", { testid: "search-box", hidden: true }, status, list);
  let timer = null;
  let seq = 0;
  let active = false;

  function setActive(on) {
    if (on === active) return;
    active = on;
    box.hidden = !on;
    onToggle(on);
  }

  async function find(query) {
    const mine = ++seq;
    status.textContent = "Searching…";
    try {
      const res = await api.get(`/api/instances/${enc(instanceId)}/chats/${enc(chatId)}/messages`, { query: { search: query, limit: LIMIT } });
      if (mine !== seq) return;
      const found = res.messages || [];
      const total = res.pagination?.total ?? found.length;
      clear(list);
      status.textContent =
        total === 0 ? `No message here holds “${query}”.` : `${total === 1 ? "1 message holds" : `${total} messages hold`} “${query}”${total > found.length ? ` (the newest ${found.length} shown)` : ""}.`;
      status.dataset.total = String(total);
      for (const m of found) {
        const li = bubble(m, env);
        mark(li, query);
        const jump = h("button.btn.btn-small.btn-ghost.show-in-chat", { type: "button", testid: "search-show" }, "Show in chat");
        jump.addEventListener("click", () => {
          close();
          show(m.messageId);
        });
        li.append(jump);
        list.append(li);
      }
    } catch (err) {
      if (mine === seq) clear(list).append(h("li", errorBox(err, "search-error")));
    }
  }

  function close() {
    clearTimeout(timer);
    seq += 1;
    input.value = "";
    clear(list);
    status.textContent = "";
    setActive(false);
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    const query = input.value.trim();
    if (!query) {
      close();
      return;
    }
    setActive(true);
    timer = setTimeout(() => find(query), WAIT_MS);
  });
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && input.value) {
      ev.preventDefault();
      close();
    }
  });
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    clearTimeout(timer);
    const query = input.value.trim();
    if (query) find(query);
  });
  return { form, box, close };
}

/** Wrap each case-insensitive occurrence of `query` in the bubble's text in <mark>. */
function mark(li, query) {
  const needle = query.toLowerCase();
  for (const el of li.querySelectorAll('[data-testid="message-text"]')) {
    const text = el.textContent;
    const lower = text.toLowerCase();
    if (lower.length !== text.length || !lower.includes(needle)) continue; // a case change that moves letters
    const parts = [];
    let at = 0;
    for (let i = lower.indexOf(needle); i !== -1; i = lower.indexOf(needle, at)) {
      if (i > at) parts.push(text.slice(at, i));
      parts.push(h("mark", text.slice(i, i + needle.length)));
      at = i + needle.length;
    }
    parts.push(text.slice(at));
    clear(el).append(...parts.filter((p) => p !== ""));
  }
}

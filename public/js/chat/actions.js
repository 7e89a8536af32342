// The menu on a message: Reply, a small emoji picker to react (or remove the reaction), and on your own
// messages Edit (text, within WhatsApp's 15 minutes) and Delete for everyone. The server has the last word:
// what it refuses shows its `error` text.

import { h, jidNumber } from "../ui.js";
import { kindOf } from "./kinds.js";

export const REACTIONS = ["👍", "❤️", "😂", "😮", "😢", "🙏"];
// WhatsApp accepts edits for 15 minutes; the menu stops offering Edit then (the server checks anyway).
const EDIT_WINDOW_MS = 15 * 60 * 1000;

let openMenu = null;

function closeMenu(focusButton = false) {
  if (!openMenu) return;
  const { menu, button } = openMenu;
  openMenu = null;
  menu.remove();
  button.setAttribute("aria-expanded", "false");
  if (focusButton) button.focus();
}

document.addEventListener("click", (ev) => {
  if (openMenu && !openMenu.menu.contains(ev.target) && ev.target !== openMenu.button) closeMenu();
});
document.addEventListener("keydown", (ev) => {
  if (ev.key === "Escape" && openMenu) closeMenu(true);
});

export function canEdit(m, now = Date.now()) {
  if (!m.fromMe || m.revoked || kindOf(m) !== "text") return false;
  const created = Date.parse(m.createdAt || "");
  return Number.isNaN(created) || now - created <= EDIT_WINDOW_MS;
}

export function canDelete(m) {
  return Boolean(m.fromMe) && !m.revoked && m.status !== "failed" && m.status !== "pending";
}

/** My current reaction on `m` ("" when none). */
export function myReaction(m, ownNumber) {
  const mine = (m.reactions || []).find((r) => r.fromMe || (ownNumber && jidNumber(r.from) === ownNumber));
  return mine?.emoji || "";
}

/**
 * The actions button of a bubble. handlers: reply(m), react(m, emoji), edit(m), remove(m), ownNumber().
 * The menu is built when it opens, from the message as it is then.
 */
export function actionsButton(li, handlers) {
  const button = h(
    "button.msg-actions-btn",
    { type: "button", testid: "message-actions", "aria-haspopup": "menu", "aria-expanded": "false", title: "Message actions" },
    h("span", { "aria-hidden": "true" }, "⋯"),
    h("span.visually-hidden", "Message actions"),
  );
  button.addEventListener("click", (ev) => {
    ev.stopPropagation();
    const wasOpen = openMenu?.button === button;
    closeMenu();
    if (wasOpen) return;
    const menu = buildMenu(li.message, handlers);
    // Open upwards on the lower half of the list, so the menu stays inside its scrolling area.
    const list = li.parentElement?.getBoundingClientRect();
    const at = li.getBoundingClientRect();
    if (list && at.top - list.top > list.height / 2) menu.classList.add("up");
    li.append(menu);
    button.setAttribute("aria-expanded", "true");
    openMenu = { menu, button };
    menu.querySelector("button")?.focus();
  });
  return button;
}

function item(label, testid, onClick, cls = "") {
  const b = h(`button.menu-item${cls}`, { type: "button", role: "menuitem", testid }, label);
  b.addEventListener("click", (ev) => {
    ev.stopPropagation();
    closeMenu();
    onClick();
  });
  return b;
}

function buildMenu(m, handlers) {
  const menu = h("div.msg-menu", { role: "menu", testid: "message-menu", "aria-label": "Message actions" });
  if (m.revoked) {
    menu.append(h("p.small.muted", "This message was deleted: nothing to do with it."));
    return menu;
  }
  const mine = myReaction(m, handlers.ownNumber());
  const picker = h(
    "div.emoji-picker",
    { role: "group", "aria-label": "React", testid: "emoji-picker" },
    REACTIONS.map((emoji) => {
      const b = item(emoji, "react-option", () => handlers.react(m, emoji), emoji === mine ? ".chosen" : "");
      b.dataset.emoji = emoji;
      b.setAttribute("aria-label", `React with ${emoji}`);
      if (emoji === mine) b.setAttribute("aria-pressed", "true");
      return b;
    }),
  );
  menu.append(picker);
  if (mine) menu.append(item("Remove my reaction", "react-remove", () => handlers.react(m, "")));
  menu.append(item("Reply", "action-reply", () => handlers.reply(m)));
  if (canEdit(m)) menu.append(item("Edit", "action-edit", () => handlers.edit(m)));
  if (canDelete(m)) menu.append(item("Delete for everyone", "action-delete", () => handlers.remove(m), ".danger"));
  return menu;
}

// A contact's profile, as WhatsApp shows it: picture, name, about, the business mark, and Block / Unblock.
// It opens as a dialog from the contacts list and from a chat's header. Also what the profile pages share:
// the avatar (a picture when WhatsApp gives one, else the initials) and the "Change picture" uploader.

import { api, enc } from "../api.js";
import { busy, clear, confirmDialog, errorBox, field, h, jidNumber, toast } from "../ui.js";

/** "+79001234567" for a phone JID or digits; a LID or anything else as it is. */
export function personLabel(jid) {
  const value = String(jid || "");
  if (!value) return "—";
  if (value.endsWith("@s.whatsapp.net") || /^\d+$/.test(value)) return `+${jidNumber(value)}`;
  return value;
}

function initials(name) {
  const words = String(name || "").replace(/[^\p{L}\p{N} ]/gu, "").trim().split(/\s+/).filter(Boolean);
  if (!words.length) return "?";
  return words.slice(0, 2).map((w) => w[0].toUpperCase()).join("");
}

/** A round avatar: the picture at `url`, or the initials of `name` when there is none or it fails to load. */
export function avatar(url, name, size = "") {
  const fallback = () => h(`span.avatar${size}`, { testid: "avatar-initials", "aria-hidden": "true" }, initials(name));
  if (!url) return fallback();
  const img = h(`img.avatar${size}`, { src: url, alt: `Picture of ${name || "this account"}`, testid: "avatar-picture", referrerpolicy: "no-referrer" });
  img.addEventListener("error", () => img.replaceWith(fallback()), { once: true });
  return img;
}

/**
 * A file input and "Change picture": PUTs the chosen image as multipart `file` to `path`. `prefix` names the
 * test ids (`<prefix>-file`, `-save`, `-saved`, `-error`); `after()` runs once WhatsApp took it.
 */
export function pictureUploader({ path, prefix, label, hint, done, after }) {
  const status = h("div", { testid: `${prefix}-status`, "aria-live": "polite", dataset: { errorTestid: `${prefix}-error` } });
  const file = field(label, { type: "file", accept: "image/*", testid: `${prefix}-file` }, hint);
  const upload = h("button.btn", { type: "button", testid: `${prefix}-save` }, "Change picture");
  upload.addEventListener("click", () =>
    busy(upload, status, async () => {
      const chosen = file.input.files?.[0];
      if (!chosen) throw new Error("choose a picture first");
      const form = new FormData();
      form.append("file", chosen);
      await api.uploadPut(path, form);
      file.input.value = "";
      status.append(h("p.alert.alert-ok", { testid: `${prefix}-saved` }, done));
      await after?.();
    }),
  );
  return h("div", status, file, h("div.row.end", upload));
}

/** The account's identifiers: its phone, its LID when WhatsApp told it, the name it gives itself. */
function facts(p) {
  const rows = [];
  if (p.phone) rows.push(["Phone", h("code", { testid: "profile-phone" }, `+${p.phone}`)]);
  if (p.lid) rows.push(["WhatsApp id", h("code.small", { testid: "profile-lid" }, p.lid)]);
  if (p.pushName && p.pushName !== p.name) rows.push(["Shows as", h("span", { testid: "profile-push-name" }, p.pushName)]);
  return h("dl.facts", rows.map(([k, v]) => [h("dt", k), h("dd", v)]));
}

let openDialog = null;

/**
 * Open the profile of `contactId` (a phone, a phone JID or a `...@lid`). `onChange()` runs after a block or
 * unblock (so a list behind the dialog can refresh).
 */
export function openProfile(instanceId, contactId, { onChange, chatHref } = {}) {
  if (openDialog) openDialog.close();
  const base = `/api/whatsapp/${enc(instanceId)}`;
  const body = h("div", { testid: "profile-body", "aria-live": "polite" }, h("p.muted", "Loading the profile from WhatsApp…"));
  const closeBtn = h("button.btn.btn-small.btn-ghost", { type: "button", testid: "profile-close", "aria-label": "Close the profile" }, "✕");
  const dialog = h(
    "dialog.dialog.profile-dialog",
    { testid: "contact-profile", "aria-labelledby": "profile-title" },
    h("div.row.between", h("h2", { id: "profile-title" }, "Contact"), closeBtn),
    body,
  );
  closeBtn.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => {
    dialog.remove();
    if (openDialog === dialog) openDialog = null;
  });
  document.body.append(dialog);
  openDialog = dialog;
  dialog.showModal();

  async function load() {
    try {
      const [profile, blocklist] = await Promise.all([
        api.get(`${base}/contacts/${enc(contactId)}/profile`),
        api.get(`${base}/blocklist`).catch(() => null), // without it, both buttons show
      ]);
      if (!dialog.open) return;
      show(profile, blocklist ? isBlocked(blocklist.blocked || [], profile) : null);
    } catch (err) {
      if (dialog.open) clear(body).append(errorBox(err, "profile-error"));
    }
  }

  function show(p, blocked) {
    const name = p.name || p.pushName || personLabel(p.jid);
    const status = h("div", { testid: "profile-status", "aria-live": "polite", dataset: { errorTestid: "profile-action-error" } });
    const blockBtn = h("button.btn.btn-danger", { type: "button", testid: "profile-block", hidden: blocked === true }, "Block");
    const unblockBtn = h("button.btn", { type: "button", testid: "profile-unblock", hidden: blocked === false }, "Unblock");
    const target = p.jid || contactId;
    blockBtn.addEventListener("click", async () => {
      const ok = await confirmDialog(`Block ${name}? Blocked contacts can no longer call you or send you messages.`, "Block");
      if (!ok) return;
      await busy(blockBtn, status, async () => {
        await api.post(`${base}/contacts/${enc(target)}/block`);
        toast(`${name} is blocked`);
        blockBtn.hidden = true;
        unblockBtn.hidden = false;
        mark.hidden = false;
        onChange?.();
      });
    });
    unblockBtn.addEventListener("click", () =>
      busy(unblockBtn, status, async () => {
        await api.post(`${base}/contacts/${enc(target)}/unblock`);
        toast(`${name} is unblocked`);
        unblockBtn.hidden = true;
        blockBtn.hidden = false;
        mark.hidden = true;
        onChange?.();
      }),
    );
    const mark = h("span.pill.bad", { testid: "profile-blocked-mark", hidden: blocked !== true }, "Blocked");
    const chatLink = chatHref ? h("a.btn", { href: chatHref(target), testid: "profile-chat" }, "Open chat") : null;
    chatLink?.addEventListener("click", () => dialog.close());
    clear(body).append(
      h(
        "div.profile-card",
        { dataset: { jid: p.jid || "" } },
        avatar(p.pictureUrl, name, ".avatar-lg"),
        h(
          "div",
          h("h3", { testid: "profile-name" }, name),
          h("div.row", p.isBusiness ? h("span.pill.ok", { testid: "profile-business" }, "Business account") : null, mark),
          h("p", { testid: "profile-about" }, p.about ? p.about : h("span.muted", "No about text")),
        ),
      ),
      facts(p),
      status,
      h("div.row.end", chatLink, unblockBtn, blockBtn),
    );
  }

  load();
  return dialog;
}

function isBlocked(list, p) {
  const mine = new Set([p.jid, p.lid].filter(Boolean));
  const number = p.phone || "";
  return list.some((jid) => mine.has(jid) || (number && jidNumber(jid) === number && !String(jid).endsWith("@lid")));
}

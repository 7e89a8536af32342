// One group: its info (subject, description, who may send, who may edit), its picture, its members
// (./members.js), the invite link (copy, reset), and Leave. WhatsApp has the last word: what it refuses
// (not an admin, not a member) shows the server's `error` text where it was asked.

import { api, enc } from "../api.js";
import { busy, checkbox, clear, confirmDialog, copyText, errorBox, field, fmtDate, h, jidNumber, toast } from "../ui.js";
import { pictureUploader } from "../people/profile.js";
import { isMe, membersSection, resultsBox } from "./members.js";

const SUBJECT_MAX = 100; // WhatsApp's limits
const DESCRIPTION_MAX = 2048;

/** The marks of a group as the list and the panel show them. */
export function groupMarks(g) {
  return [
    g.announce ? h("span.pill.warn", { testid: "group-mark-announce" }, "only admins can send") : null,
    g.locked ? h("span.pill", { testid: "group-mark-locked" }, "only admins can edit info") : null,
  ];
}

/**
 * The panel of group `groupId`. opts: ctx (the instance page's), changed() (the list should reload), left()
 * (we left the group). Returns {node, reload()}.
 */
export function groupPanel(ctx, groupId, { changed, left }) {
  const base = `/api/whatsapp/${enc(ctx.id)}`;
  const path = `${base}/groups/${enc(groupId)}`;
  const node = h("div", { testid: "group-panel", dataset: { groupId } }, h("p.muted", "Loading the group…"));
  const results = resultsBox();
  const inviteBox = h("div", { testid: "invite-box", "aria-live": "polite", dataset: { errorTestid: "invite-error" } });
  let seq = 0;
  let shown = null; // the group as last drawn: a reload with nothing new keeps what is being typed

  async function reload() {
    const mine = ++seq;
    try {
      // Our own number says which member we are (the tab's ctx is a copy made before the instance loaded).
      const inst = await ctx.ready?.catch(() => null);
      own = jidNumber(inst?.phone || ctx.instance?.phone || "");
      const group = await api.get(path);
      if (mine === seq) show(group);
    } catch (err) {
      if (mine !== seq) return;
      shown = null;
      clear(node).append(errorBox(err, "group-error"));
    }
  }

  let own = "";
  const ownNumber = () => own;

  function show(g) {
    const sig = JSON.stringify([ownNumber(), g]);
    if (sig === shown) return;
    shown = sig;
    // Sections the user opened stay open when the panel is redrawn.
    const open = new Set([...node.querySelectorAll("details[open]")].map((d) => d.dataset.testid));
    const me = (g.participants || []).find((p) => isMe(p, ownNumber()));
    const admin = me ? Boolean(me.isAdmin || me.isSuperAdmin) : null; // null: not known which member we are
    const head = h(
      "div.group-head",
      h("h2", { testid: "group-subject" }, g.subject || "(no subject)"),
      h("div.row", groupMarks(g), admin ? h("span.pill.ok", { testid: "group-you-admin" }, "You are an admin") : null),
      g.description ? h("p.group-description", { testid: "group-description" }, g.description) : null,
      h(
        "p.small.muted",
        h("code", { testid: "group-id" }, g.id),
        g.createdAt ? ` · created ${fmtDate(g.createdAt)}` : "",
        g.owner ? ` · by +${jidNumber(g.owner)}` : "",
      ),
      h("div.row", h("a.btn.btn-small", { href: `#/instances/${enc(ctx.id)}/chats/${enc(g.id)}`, testid: "group-open-chat" }, "Open chat")),
    );
    const notAdmin =
      admin === false
        ? h("p.alert.alert-info", { testid: "group-not-admin" }, "You are not an admin of this group: WhatsApp only lets admins change members, the invite link and (when locked) the group's info.")
        : null;
    const sections = [
      head,
      notAdmin,
      membersSection({ base, groupId: g.id, group: g, ownNumber: ownNumber(), results, changed: afterChange }),
      settingsSection(g),
      pictureSection(g),
      inviteSection(g),
      leaveSection(g),
    ];
    clear(node).append(...sections.filter(Boolean));
    for (const d of node.querySelectorAll("details")) if (open.has(d.dataset.testid)) d.open = true;
  }

  async function afterChange() {
    await reload();
    changed();
  }

  function settingsSection(g) {
    const status = h("div", { testid: "group-settings-status", "aria-live": "polite", dataset: { errorTestid: "group-settings-error" } });
    const subject = field("Subject", { type: "text", maxlength: SUBJECT_MAX, required: true, value: g.subject || "", testid: "group-subject-input" });
    const description = field("Description", { tag: "textarea", maxlength: DESCRIPTION_MAX, rows: 3, value: g.description || "", testid: "group-description-input" });
    const announce = checkbox("Only admins can send messages", { checked: Boolean(g.announce), testid: "group-announce" });
    const locked = checkbox("Only admins can edit the group's info", { checked: Boolean(g.locked), testid: "group-locked" });
    const save = h("button.btn.btn-primary", { type: "submit", testid: "group-settings-save" }, "Save");
    const form = h("form", { testid: "group-settings-form" }, subject, description, announce, locked, h("div.row.end", save));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(save, status, async () => {
        const body = {};
        if (subject.input.value.trim() !== (g.subject || "")) body.subject = subject.input.value.trim();
        if (description.input.value !== (g.description || "")) body.description = description.input.value;
        if (announce.input.checked !== Boolean(g.announce)) body.announce = announce.input.checked;
        if (locked.input.checked !== Boolean(g.locked)) body.locked = locked.input.checked;
        if (!Object.keys(body).length) {
          status.append(h("p.alert.alert-info", { testid: "group-settings-unchanged" }, "Nothing changed."));
          return;
        }
        show(await api.put(path, body));
        toast("Group saved on WhatsApp");
        changed();
      });
    });
    return h("details.group-section", { testid: "group-settings" }, h("summary", h("h3", "Group info and settings")), status, form);
  }

  function pictureSection() {
    const uploader = pictureUploader({ path: `${path}/picture`, prefix: "group-picture", label: "New group picture", done: "Group picture changed on WhatsApp." });
    return h("details.group-section", { testid: "group-picture" }, h("summary", h("h3", "Picture")), uploader);
  }

  function inviteSection() {
    const showBtn = h("button.btn", { type: "button", testid: "invite-show" }, "Show invite link");
    const resetBtn = h("button.btn.btn-danger", { type: "button", testid: "invite-reset" }, "Reset link");
    const showLink = (res) => {
      const copy = h("button.btn.btn-small", { type: "button", testid: "invite-copy" }, "Copy");
      copy.addEventListener("click", () => copyText(res.link));
      clear(inviteBox).append(h("div.row", h("code.secret", { testid: "invite-link", dataset: { code: res.code } }, res.link), copy));
    };
    showBtn.addEventListener("click", () => busy(showBtn, inviteBox, async () => showLink(await api.get(`${path}/invite`))));
    resetBtn.addEventListener("click", async () => {
      if (!(await confirmDialog("Reset the invite link? The current link stops working; people who have it can no longer join with it.", "Reset link"))) return;
      await busy(resetBtn, inviteBox, async () => {
        showLink(await api.post(`${path}/invite/revoke`));
        inviteBox.append(h("p.alert.alert-ok", { testid: "invite-reset-done" }, "The old link no longer works."));
      });
    });
    return h(
      "section.group-section",
      { testid: "group-invite", "aria-labelledby": "group-invite-title" },
      h("h3", { id: "group-invite-title" }, "Invite link"),
      h("p.small.muted", "Anyone with the link can join the group."),
      inviteBox,
      h("div.row", showBtn, resetBtn),
    );
  }

  function leaveSection(g) {
    const status = h("div", { testid: "group-leave-status", "aria-live": "polite", dataset: { errorTestid: "group-leave-error" } });
    const leave = h("button.btn.btn-danger", { type: "button", testid: "group-leave" }, "Leave group");
    leave.addEventListener("click", async () => {
      if (!(await confirmDialog(`Leave “${g.subject}”? You stop receiving its messages; an admin must add you again to come back.`, "Leave group"))) return;
      await busy(leave, status, async () => {
        await api.post(`${path}/leave`);
        toast(`You left “${g.subject}”`);
        left();
      });
    });
    return h("section.group-section", h("div.row.between", h("span.muted.small", "Leaving does not delete the chat history here."), leave), status);
  }

  reload();
  return { node, reload };
}

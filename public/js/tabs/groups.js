// Groups: the groups the account is in (subject, members, who may send or edit), "Refresh" from WhatsApp,
// "New group", "Join with a link", and one group's panel (../groups/panel.js), kept up to date by the live
// group events.

import { api, enc } from "../api.js";
import { meta } from "../meta.js";
import { groupMarks, groupPanel } from "../groups/panel.js";
import { parsePhones } from "../groups/members.js";
import { busy, clear, errorBox, field, h, toast } from "../ui.js";

// The live events that change what this tab shows.
// The events that change the groups come from the server's list (GET /api/meta), never a copy here.
let groupEvents = new Set();
const SAFETY_POLL_MS = 10000;
const SAFETY_POLL_STREAMING_MS = 60000;

export function render(root, ctx) {
  meta().then((m) => { groupEvents = new Set(m.groupEventTypes || []); }).catch(() => {});
  const groupId = ctx.sub;
  const base = `/api/whatsapp/${enc(ctx.id)}`;
  const groupHref = (id) => `#/instances/${enc(ctx.id)}/groups/${enc(id)}`;
  const listBox = h("div", { testid: "groups-list-box", "aria-live": "polite" });
  const listStatus = h("div", { testid: "groups-status", "aria-live": "polite", dataset: { errorTestid: "groups-error" } });
  const refreshBtn = h("button.btn.btn-small", { type: "button", testid: "groups-refresh", title: "Read the groups again from WhatsApp" }, "Refresh");

  const side = h(
    "aside.card",
    { "aria-label": "Groups" },
    h("div.row.between", h("h2", "Groups"), refreshBtn),
    listStatus,
    listBox,
    newGroupForm(),
    joinForm(),
  );
  const view = h("section.card", { testid: "group-view", "aria-label": "Group" });
  root.append(h(`div.chat-layout${groupId ? ".has-chat" : ""}`, side, view));

  let stopped = false;
  let timer = null;
  let debounce = null;
  let panel = null;

  async function loadGroups(refresh = false) {
    clearTimeout(timer);
    try {
      const res = await api.get(`${base}/groups`, { query: { refresh: refresh ? "true" : undefined } });
      if (stopped) return;
      clear(listStatus);
      showList(res.groups || []);
    } catch (err) {
      if (refresh) throw err; // shown by the Refresh button's handler
      if (!stopped) clear(listStatus).append(errorBox(err, "groups-error"));
    } finally {
      if (!stopped) timer = setTimeout(() => loadGroups(), ctx.live.every(SAFETY_POLL_MS, SAFETY_POLL_STREAMING_MS));
    }
  }

  function showList(groups) {
    clear(listBox);
    if (!groups.length) {
      listBox.append(h("p.muted", { testid: "groups-empty" }, "This account is in no group yet."));
      return;
    }
    const sorted = [...groups].sort((a, b) => String(a.subject || "").localeCompare(String(b.subject || "")));
    listBox.append(
      h(
        "ul.chat-list",
        { testid: "groups-list" },
        sorted.map((g) => {
          const count = g.participantsCount ?? (g.participants || []).length;
          return h(
            "li",
            h(
              "a",
              { href: groupHref(g.id), testid: "group-item", dataset: { groupId: g.id }, "aria-current": g.id === groupId || g.id === `${groupId}@g.us` ? "true" : null },
              h("strong", { testid: "group-item-subject" }, g.subject || "(no subject)"),
              h("div.small.muted", { testid: "group-item-count" }, `${count} member${count === 1 ? "" : "s"}`),
              h("div.row", groupMarks(g)),
            ),
          );
        }),
      ),
    );
  }

  function newGroupForm() {
    const status = h("div", { "aria-live": "polite", dataset: { errorTestid: "new-group-error" } });
    const subject = field("Subject", { type: "text", required: true, maxlength: 100, testid: "new-group-subject" });
    const phones = field("Members", { tag: "textarea", rows: 2, required: true, placeholder: "79001234567, 79007654321", testid: "new-group-phones" }, "Phone numbers, one per line or separated by commas.");
    const submit = h("button.btn.btn-primary", { type: "submit", testid: "new-group-submit" }, "Create group");
    const form = h("form", { testid: "new-group-form" }, subject, phones, status, h("div.row.end", submit));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(submit, status, async () => {
        const group = await api.post(`${base}/groups`, { subject: subject.input.value.trim(), participants: parsePhones(phones.input.value) });
        toast(`Group “${group.subject}” created`, "ok", { keep: true });
        subject.input.value = "";
        phones.input.value = "";
        await loadGroups();
        ctx.navigate(`/instances/${enc(ctx.id)}/groups/${enc(group.id)}`);
      });
    });
    return h("details.group-section", { testid: "new-group" }, h("summary", h("h3", "New group")), form);
  }

  function joinForm() {
    const status = h("div", { "aria-live": "polite", dataset: { errorTestid: "join-group-error" } });
    const link = field("Invite link", { type: "url", required: true, placeholder: "https://chat.whatsapp.com/…", testid: "join-group-link" });
    const submit = h("button.btn", { type: "submit", testid: "join-group-submit" }, "Join");
    const form = h("form", { testid: "join-group-form" }, link, status, h("div.row.end", submit));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(submit, status, async () => {
        const res = await api.post(`${base}/groups/join`, { link: link.input.value.trim() });
        toast("Joined the group", "ok", { keep: true });
        link.input.value = "";
        await loadGroups();
        ctx.navigate(`/instances/${enc(ctx.id)}/groups/${enc(res.groupId)}`);
      });
    });
    return h("details.group-section", { testid: "join-group" }, h("summary", h("h3", "Join with a link")), form);
  }

  refreshBtn.addEventListener("click", () =>
    busy(refreshBtn, listStatus, async () => {
      await loadGroups(true);
      toast("Groups read again from WhatsApp");
      panel?.reload();
    }),
  );

  if (groupId) {
    panel = groupPanel(ctx, groupId, {
      changed: () => loadGroups(),
      left: () => {
        loadGroups();
        ctx.navigate(`/instances/${enc(ctx.id)}/groups`);
      },
    });
    view.append(panel.node);
  } else {
    view.append(h("p.muted", { testid: "no-group-selected" }, "Choose a group, create one, or join one with an invite link."));
  }

  const off = ctx.live.on((events) => {
    if (!events.some((e) => groupEvents.has(String(e.type)))) return;
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      loadGroups();
      panel?.reload();
    }, 150);
  });
  loadGroups();

  return () => {
    stopped = true;
    clearTimeout(timer);
    clearTimeout(debounce);
    off();
  };
}

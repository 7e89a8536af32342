// A group's members: who they are, Admin / Owner badges, and (for admins) add, remove, make admin and remove
// admin. WhatsApp answers for each member separately; those answers show in words under the list.

import { api } from "../api.js";
import { personLabel } from "../people/profile.js";
import { busy, clear, confirmDialog, field, h, jidNumber } from "../ui.js";

// WhatsApp's per-member answers (`status` of each result), in words for people; others show as they come.
// A few mean something else when adding (a number nobody uses is "not found"; a member "conflicts").
const RESULT_WORDS = {
  ok: "done",
  not_authorized: "not allowed",
  forbidden: "not allowed",
  not_found: "not in the group",
  conflict: "conflict",
  not_on_whatsapp: "not on WhatsApp",
  recently_left: "left recently: send an invite link instead",
  not_admin: "not an admin",
  group_full: "the group is full",
};
const ADD_WORDS = { not_found: "not on WhatsApp", conflict: "already in the group" };
const ACTION_WORDS = {
  add: ["Added", "Adding"],
  remove: ["Removed", "Removing"],
  promote: ["Made admin", "Making admin"],
  demote: ["Admin removed", "Removing admin"],
};

export function resultWords(action, status) {
  return (action === "add" && ADD_WORDS[status]) || RESULT_WORDS[status] || String(status || "unknown").replace(/_/g, " ");
}

/** Phones typed one per line or separated by commas, spaces or semicolons. */
export function parsePhones(text) {
  return String(text || "")
    .split(/[\s,;]+/)
    .map((p) => p.trim())
    .filter(Boolean);
}

export function isMe(p, ownNumber) {
  return Boolean(ownNumber) && (p.phone === ownNumber || jidNumber(p.jid) === ownNumber);
}

function roleBadge(p) {
  if (p.isSuperAdmin) return h("span.pill.role.owner", { testid: "member-role", dataset: { role: "owner" } }, "Owner");
  if (p.isAdmin) return h("span.pill.role.admin", { testid: "member-role", dataset: { role: "admin" } }, "Admin");
  return null;
}

/** The box WhatsApp's answers show in; it outlives the members list, which is redrawn on every change. */
export function resultsBox() {
  return h("div", { testid: "participants-results", "aria-live": "polite", dataset: { errorTestid: "participants-error" } });
}

/**
 * The members section. opts: base (the instance's /api/whatsapp path), groupId, group, ownNumber, results
 * (a `resultsBox()`), changed() (reload the group after WhatsApp answered).
 */
export function membersSection({ base, groupId, group, ownNumber, results, changed }) {
  const path = `${base}/groups/${encodeURIComponent(groupId)}/participants`;

  async function act(button, action, participants) {
    await busy(button, results, async () => {
      const res = await api.post(path, { action, participants });
      showResults(action, res.results || []);
      await changed();
    });
  }

  function showResults(action, list) {
    const [done, doing] = ACTION_WORDS[action] || [action, action];
    const okCount = list.filter((r) => r.status === "ok").length;
    const tone = okCount === list.length ? ".alert-ok" : okCount ? ".alert-warn" : ".alert-error";
    results.append(
      h(
        `div.alert${tone}`,
        { testid: "participants-result", dataset: { action } },
        h("strong", okCount === list.length ? done : `${doing}: WhatsApp answered for each member`),
        h(
          "ul.plain-list",
          list.map((r) =>
            h(
              "li",
              { testid: "participant-result", dataset: { jid: r.jid, status: r.status } },
              h("code", personLabel(r.jid)),
              " — ",
              h("span", { testid: "participant-result-words" }, resultWords(action, r.status)),
            ),
          ),
        ),
      ),
    );
  }

  const members = [...(group.participants || [])].sort(
    (a, b) => Number(Boolean(b.isSuperAdmin)) - Number(Boolean(a.isSuperAdmin)) || Number(Boolean(b.isAdmin)) - Number(Boolean(a.isAdmin)),
  );
  const rows = members.map((p) => {
    const me = isMe(p, ownNumber);
    const who = p.phone ? `+${p.phone}` : personLabel(p.jid);
    const actions = h("td.actions");
    if (!me) {
      if (!p.isAdmin && !p.isSuperAdmin) {
        const promote = h("button.btn.btn-small", { type: "button", testid: "member-promote" }, "Make admin");
        promote.addEventListener("click", () => act(promote, "promote", [p.jid]));
        actions.append(promote);
      } else if (!p.isSuperAdmin) {
        const demote = h("button.btn.btn-small", { type: "button", testid: "member-demote" }, "Remove admin");
        demote.addEventListener("click", () => act(demote, "demote", [p.jid]));
        actions.append(demote);
      }
      const remove = h("button.btn.btn-small.btn-danger", { type: "button", testid: "member-remove" }, "Remove");
      remove.addEventListener("click", async () => {
        if (!(await confirmDialog(`Remove ${who} from “${group.subject}”?`, "Remove"))) return;
        await act(remove, "remove", [p.jid]);
      });
      actions.append(remove);
    }
    return h(
      "tr",
      { testid: "member-row", dataset: { jid: p.jid || "", phone: p.phone || "", admin: String(Boolean(p.isAdmin || p.isSuperAdmin)) } },
      h("td", h("span", { testid: "member-name" }, who), me ? h("span.pill.you", { testid: "member-you" }, "You") : null),
      h("td", roleBadge(p)),
      h("td.hide-sm", p.lid ? h("code.small", p.lid) : h("span.muted", "—")),
      actions,
    );
  });

  const phones = field("Add members", { tag: "textarea", rows: 2, placeholder: "79001234567, 79007654321", testid: "add-members-phones" }, "Phone numbers, one per line or separated by commas.");
  const addBtn = h("button.btn", { type: "submit", testid: "add-members-submit" }, "Add");
  const addForm = h("form", { testid: "add-members-form" }, phones, h("div.row.end", addBtn));
  addForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const list = parsePhones(phones.input.value);
    if (!list.length) {
      clear(results).append(h("p.alert.alert-error", { role: "alert", testid: "participants-error" }, "type at least one phone number"));
      return;
    }
    act(addBtn, "add", list).then(() => {
      if (!results.querySelector('[data-testid="participants-error"]')) phones.input.value = "";
    });
  });

  return h(
    "section.group-section",
    { testid: "group-members", "aria-labelledby": "group-members-title" },
    h("h3", { id: "group-members-title", testid: "members-count" }, `${members.length} member${members.length === 1 ? "" : "s"}`),
    h(
      "div.table-wrap",
      h(
        "table",
        { testid: "members-table" },
        h("thead", h("tr", h("th", "Member"), h("th", "Role"), h("th.hide-sm", "WhatsApp id"), h("th", h("span.visually-hidden", "Actions")))),
        h("tbody", rows.length ? rows : h("tr", h("td", { colspan: 4 }, "No members known yet: press Refresh."))),
      ),
    ),
    results,
    addForm,
  );
}

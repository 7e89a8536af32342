// Contacts: the stored contacts (search, groups only, paging), import from the phone, save one by hand.

import { api, enc } from "../api.js";
import { openProfile } from "../people/profile.js";
import { busy, checkbox, clear, errorBox, field, fmtDate, h, toast } from "../ui.js";

const PAGE = 50;

export function render(root, ctx) {
  const search = field("Search", { type: "search", placeholder: "Name or number", testid: "contacts-search" });
  const onlyGroups = checkbox("Groups only", { testid: "contacts-groups" });
  const importBtn = h("button.btn", { type: "button", testid: "contacts-import" }, "Import from WhatsApp");
  const status = h("div", { testid: "contacts-status", "aria-live": "polite", dataset: { errorTestid: "contacts-error" } });
  const importResult = h("div", { testid: "contacts-import-box", "aria-live": "polite", dataset: { errorTestid: "contacts-import-error" } });
  const tbody = h("tbody", { testid: "contacts-rows" });
  const more = h("button.btn", { type: "button", testid: "contacts-more", hidden: true }, "Load more");
  const total = h("p.small.muted", { testid: "contacts-total" });

  const cNumber = field("Number", { type: "text", inputmode: "tel", required: true, testid: "contact-number" });
  const cName = field("Name", { type: "text", testid: "contact-name" });
  const cSubmit = h("button.btn", { type: "submit", testid: "contact-save" }, "Save contact");
  const cResult = h("div", { dataset: { errorTestid: "contact-error" }, "aria-live": "polite" });
  const saveForm = h("form.card", { testid: "contact-form" }, h("h2", "Add or update a contact"), h("div.form-grid", cNumber, cName), h("div.row", cSubmit), cResult);

  root.append(
    h(
      "div.card",
      h("div.row.between", h("h2", "Contacts"), importBtn),
      h("form", { role: "search", testid: "contacts-search-form", onsubmit: (e) => e.preventDefault() }, h("div.form-grid", search, h("div.field", h("span.muted.small", " "), onlyGroups))),
      importResult,
      status,
      total,
      h(
        "div.table-wrap",
        h("table", { testid: "contacts-table" }, h("thead", h("tr", h("th", "Name"), h("th", "Number"), h("th.hide-sm", "Type"), h("th.hide-sm", "Last activity"), h("th", h("span.visually-hidden", "Actions")))), tbody),
      ),
      h("div.row", more),
    ),
    saveForm,
  );

  let skip = 0;
  let stopped = false;
  let debounce = null;
  let seq = 0;

  async function load(reset) {
    if (reset) skip = 0;
    const mine = ++seq;
    try {
      const res = await api.get(`/api/instances/${enc(ctx.id)}/contacts/db`, {
        query: { limit: PAGE, skip, search: search.input.value.trim(), onlyGroups: onlyGroups.input.checked ? "true" : undefined },
      });
      if (stopped || mine !== seq) return;
      clear(status);
      if (reset) clear(tbody);
      const rows = res.contacts || [];
      for (const c of rows) {
        tbody.append(
          h(
            "tr",
            { testid: "contact-row", dataset: { number: c.number || "" } },
            h("td", c.name || c.pushName || "—"),
            h("td", h("code", c.number || c.remoteJid || c.id)),
            h("td.hide-sm", c.isGroup ? "group" : "person"),
            h("td.hide-sm", fmtDate(c.lastActivity || c.updatedAt)),
            h("td", h("div.row", h("a.btn.btn-small", { href: `#/instances/${enc(ctx.id)}/chats/${enc(c.remoteJid || c.number)}`, testid: "contact-chat" }, "Chat"), detailsButton(c))),
          ),
        );
      }
      skip += rows.length;
      const p = res.pagination || {};
      more.hidden = !p.hasMore;
      total.textContent = p.total !== undefined ? `${p.total} contact${p.total === 1 ? "" : "s"}` : "";
      if (!tbody.children.length) tbody.append(h("tr", h("td", { colspan: 5, testid: "contacts-empty" }, "No contacts found.")));
    } catch (err) {
      if (!stopped && mine === seq) clear(status).append(errorBox(err, "contacts-error"));
    }
  }

  // A person's WhatsApp profile, or a group's panel.
  function detailsButton(c) {
    const id = c.remoteJid || c.number;
    if (c.isGroup) return h("a.btn.btn-small", { href: `#/instances/${enc(ctx.id)}/groups/${enc(id)}`, testid: "contact-group" }, "Group");
    const button = h("button.btn.btn-small", { type: "button", testid: "contact-profile-open" }, "Profile");
    button.addEventListener("click", () => openProfile(ctx.id, id, { chatHref: (jid) => `#/instances/${enc(ctx.id)}/chats/${enc(jid)}` }));
    return button;
  }

  search.input.addEventListener("input", () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => load(true), 250);
  });
  onlyGroups.input.addEventListener("change", () => load(true));
  more.addEventListener("click", () => load(false));
  importBtn.addEventListener("click", () =>
    busy(importBtn, importResult, async () => {
      const res = await api.post(`/api/instances/${enc(ctx.id)}/contacts/import`);
      toast(res.message || `Imported ${res.importedCount} contacts`);
      importResult.append(h("p.alert.alert-ok", { testid: "contacts-import-result" }, res.message || `Imported ${res.importedCount} contacts`));
      await load(true);
    }),
  );
  saveForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    busy(cSubmit, cResult, async () => {
      const body = { number: cNumber.input.value.trim() };
      if (cName.input.value.trim()) body.name = cName.input.value.trim();
      const saved = await api.post(`/api/instances/${enc(ctx.id)}/contacts/save`, body);
      cResult.append(h("p.alert.alert-ok", { testid: "contact-saved" }, `Saved ${saved.name || saved.number || body.number}`));
      cNumber.input.value = "";
      cName.input.value = "";
      await load(true);
    });
  });

  load(true);
  return () => {
    stopped = true;
    clearTimeout(debounce);
  };
}

// Profile & privacy: the account's own WhatsApp profile (name, about, picture), who may see what (privacy
// settings in WhatsApp's words), and the blocked contacts.

import { api, enc } from "../api.js";
import { avatar, openProfile, personLabel, pictureUploader } from "../people/profile.js";
import { busy, clear, errorBox, field, h, toast } from "../ui.js";

// WhatsApp's privacy settings and their values, as the phone shows them (API values on the left).
const EVERYONE = ["all", "Everyone"];
const CONTACTS = ["contacts", "My contacts"];
const EXCEPT = ["contact_blacklist", "My contacts except…"];
const NOBODY = ["none", "Nobody"];
export const PRIVACY = [
  ["lastSeen", "Last seen", [EVERYONE, CONTACTS, EXCEPT, NOBODY]],
  ["online", "Who can see when I'm online", [EVERYONE, ["match_last_seen", "Same as last seen"]]],
  ["profilePhoto", "Profile photo", [EVERYONE, CONTACTS, EXCEPT, NOBODY]],
  ["about", "About", [EVERYONE, CONTACTS, EXCEPT, NOBODY]],
  ["groupAdd", "Who can add me to groups", [EVERYONE, CONTACTS, EXCEPT]],
  ["readReceipts", "Read receipts", [["all", "On"], ["none", "Off"]]],
];
const NAME_MAX = 25; // WhatsApp's limits
const ABOUT_MAX = 139;

export function render(root, ctx) {
  const base = `/api/whatsapp/${enc(ctx.id)}`;
  const own = ownProfileCard(base);
  const privacy = privacyCard(base);
  const blocked = blockedCard(ctx, base);
  root.append(h("div.grid", own.node, privacy.node), blocked.node);
  own.load();
  privacy.load();
  blocked.load();
  return undefined;
}

function ownProfileCard(base) {
  const status = h("div", { testid: "own-profile-status", "aria-live": "polite", dataset: { errorTestid: "own-profile-error" } });
  const picture = h("div.own-picture", { testid: "own-picture" });
  const name = field("Name", { type: "text", maxlength: NAME_MAX, testid: "own-name", autocomplete: "off" }, "The name people see when they have not saved your number.");
  const about = field("About", { tag: "textarea", maxlength: ABOUT_MAX, rows: 2, testid: "own-about" });
  const save = h("button.btn.btn-primary", { type: "submit", testid: "own-profile-save" }, "Save");
  const form = h("form", { testid: "own-profile-form" }, name, about, h("div.row.end", save));
  const node = h(
    "div.card",
    { testid: "own-profile" },
    h("h2", "Your WhatsApp profile"),
    h("div.row", picture, h("div.small.muted", { testid: "own-jid" })),
    status,
    form,
    h(
      "div.picture-upload",
      pictureUploader({
        path: `${base}/profile/picture`,
        prefix: "own-picture",
        label: "New picture",
        hint: "A square photo looks best; WhatsApp crops it to a circle.",
        done: "Picture changed on WhatsApp.",
        after: () => load(),
      }),
    ),
  );
  let current = {};

  function show(p) {
    current = p || {};
    name.input.value = current.name || "";
    about.input.value = current.about || "";
    clear(picture).append(avatar(current.pictureUrl, current.name, ".avatar-lg"));
    node.querySelector('[data-testid="own-jid"]').textContent = current.phone ? `+${current.phone}` : current.jid || "";
  }

  async function load() {
    try {
      show(await api.get(`${base}/profile`));
    } catch (err) {
      clear(status).append(errorBox(err, "own-profile-error"));
    }
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    busy(save, status, async () => {
      const body = {};
      const n = name.input.value.trim();
      const a = about.input.value.trim();
      if (n !== (current.name || "")) body.name = n;
      if (a !== (current.about || "")) body.about = a;
      if (!Object.keys(body).length) {
        status.append(h("p.alert.alert-info", { testid: "own-profile-unchanged" }, "Nothing changed."));
        return;
      }
      show(await api.put(`${base}/profile`, body));
      status.append(h("p.alert.alert-ok", { testid: "own-profile-saved" }, "Saved on WhatsApp."));
    });
  });
  return { node, load };
}

function privacyCard(base) {
  const status = h("div", { testid: "privacy-status", "aria-live": "polite", dataset: { errorTestid: "privacy-error" } });
  const selects = {};
  const fields = PRIVACY.map(([key, label, values]) => {
    const f = field(label, { tag: "select", options: values, testid: `privacy-${key}`, disabled: true });
    selects[key] = f.input;
    return f;
  });
  const save = h("button.btn.btn-primary", { type: "submit", testid: "privacy-save", disabled: true }, "Save privacy");
  const form = h("form", { testid: "privacy-form" }, h("div.form-grid", fields), h("div.row.end", save));
  const node = h("div.card", { testid: "privacy" }, h("h2", "Privacy"), h("p.small.muted", "Who can see what, as set on WhatsApp."), status, form);
  let current = {};

  function show(settings) {
    current = settings || {};
    for (const [key, , values] of PRIVACY) {
      const select = selects[key];
      const value = current[key];
      // A value this page has no words for still shows (as WhatsApp sent it), so saving never changes it.
      if (value && !values.some(([v]) => v === value) && ![...select.options].some((o) => o.value === value)) {
        select.append(h("option", { value }, value.replace(/_/g, " ")));
      }
      if (value) select.value = value;
      select.disabled = false;
    }
    save.disabled = false;
  }

  async function load() {
    try {
      show(await api.get(`${base}/privacy`));
    } catch (err) {
      clear(status).append(errorBox(err, "privacy-error"));
    }
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    busy(save, status, async () => {
      const changes = {};
      for (const [key] of PRIVACY) if (selects[key].value !== current[key]) changes[key] = selects[key].value;
      if (!Object.keys(changes).length) {
        status.append(h("p.alert.alert-info", { testid: "privacy-unchanged" }, "Nothing changed."));
        return;
      }
      show(await api.put(`${base}/privacy`, changes));
      status.append(h("p.alert.alert-ok", { testid: "privacy-saved" }, "Privacy saved on WhatsApp."));
    });
  });
  return { node, load };
}

function blockedCard(ctx, base) {
  const status = h("div", { testid: "blocked-status", "aria-live": "polite", dataset: { errorTestid: "blocked-error" } });
  const list = h("ul.plain-list", { testid: "blocked-list" });
  const number = field("Block a number", { type: "text", inputmode: "tel", placeholder: "79001234567", testid: "block-number" });
  const blockBtn = h("button.btn.btn-danger", { type: "submit", testid: "block-number-submit" }, "Block");
  const form = h("form.row.bottom", { testid: "block-form" }, number, blockBtn);
  const node = h("div.card", { testid: "blocked" }, h("h2", "Blocked"), status, list, form);

  async function load() {
    try {
      const res = await api.get(`${base}/blocklist`);
      clear(status);
      clear(list);
      const jids = res.blocked || [];
      if (!jids.length) list.append(h("li.muted", { testid: "blocked-empty" }, "Nobody is blocked."));
      for (const jid of jids) {
        const unblock = h("button.btn.btn-small", { type: "button", testid: "blocked-unblock" }, "Unblock");
        const profile = h("button.btn.btn-small", { type: "button", testid: "blocked-profile" }, "Profile");
        unblock.addEventListener("click", () =>
          busy(unblock, status, async () => {
            await api.post(`${base}/contacts/${enc(jid)}/unblock`);
            toast(`${personLabel(jid)} is unblocked`);
            await load();
          }),
        );
        profile.addEventListener("click", () => openProfile(ctx.id, jid, { onChange: load }));
        list.append(h("li.row.between", { testid: "blocked-row", dataset: { jid } }, h("code", personLabel(jid)), h("span.row", profile, unblock)));
      }
    } catch (err) {
      clear(status).append(errorBox(err, "blocked-error"));
    }
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    busy(blockBtn, status, async () => {
      const value = number.input.value.trim();
      if (!value) throw new Error("type the number to block");
      await api.post(`${base}/contacts/${enc(value)}/block`);
      number.input.value = "";
      toast(`${personLabel(value)} is blocked`);
      await load();
    });
  });
  return { node, load };
}

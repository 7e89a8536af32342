// The instances list: cards with live status badges (polled, updated in place, no reload). An admin sees
// every user's instances: then each card says whose it is (the owner's email).

import { api, enc, session } from "../api.js";
import { badge, busy, clear, confirmDialog, errorBox, fmtDate, h, setBadge, toast } from "../ui.js";

const POLL_MS = 2000;

export function render(root) {
  const list = h("div.instances", { testid: "instance-list", "aria-live": "polite" });
  const status = h("div", { testid: "instances-status" });
  root.append(
    h(
      "div.row.between",
      h("h1", "Instances"),
      h("a.btn.btn-primary", { href: "#/instances/new", testid: "new-instance" }, "+ New instance"),
    ),
    status,
    list,
  );
  const cards = new Map();
  let stopped = false;
  let timer = null;

  // Admins only: user id -> email, read once (and again when an instance of an unknown user shows up).
  const owners = new Map();
  let ownersAsked = null;
  async function ownerEmails(instances) {
    if (!session.isAdmin) return;
    const unknown = instances.some((i) => i.userId && !owners.has(i.userId));
    if (!unknown || ownersAsked === instances.length) return;
    ownersAsked = instances.length;
    try {
      const res = await api.get("/api/users");
      for (const u of res.users || []) owners.set(u.id, u.email);
    } catch {
      // Without the list, a card shows no owner: the instances still show.
    }
  }

  function card(inst) {
    const b = badge(inst.status, "instance-status");
    const owner = h("div.small.owner", { testid: "instance-owner", hidden: true });
    const phone = h("span.muted.small", { testid: "instance-phone" });
    const desc = h("p.muted.small", { testid: "instance-description" });
    const name = h("a", { href: `#/instances/${enc(inst.id)}`, testid: "instance-link" });
    const del = h("button.btn.btn-small.btn-danger", { type: "button", testid: "delete-instance" }, "Delete");
    del.addEventListener("click", async () => {
      if (!(await confirmDialog(`Delete instance “${inst.name}”? Its connection is closed and it disappears.`, "Delete"))) return;
      await busy(del, null, async () => {
        await api.del(`/api/instances/${enc(inst.id)}`);
        toast(`Instance ${inst.name} deleted`);
        refresh();
      });
    });
    const el = h(
      "article.card.instance-card",
      { testid: "instance-card", dataset: { instanceId: inst.id } },
      h("div.row.between", h("h2", name), b),
      owner,
      desc,
      phone,
      h("div.muted.small", "Created ", fmtDate(inst.createdAt)),
      h(
        "div.row",
        h("a.btn.btn-small", { href: `#/instances/${enc(inst.id)}`, testid: "open-instance" }, "Open"),
        h("a.btn.btn-small", { href: `#/instances/${enc(inst.id)}/edit`, testid: "edit-instance" }, "Edit"),
        del,
      ),
    );
    el.parts = { b, phone, desc, name, owner };
    return el;
  }

  function update(el, inst, showOwner) {
    const { b, phone, desc, name, owner } = el.parts;
    const mine = inst.userId === session.user?.id;
    owner.hidden = !showOwner;
    owner.textContent = "";
    if (showOwner) owner.append(h("span.muted", "Owner "), h("strong", mine ? "you" : owners.get(inst.userId) || "another user"));
    owner.dataset.owner = mine ? "you" : owners.get(inst.userId) || "";
    if (b.dataset.status !== inst.status) setBadge(b, inst.status);
    name.textContent = inst.name;
    desc.textContent = inst.description || "";
    desc.hidden = !inst.description;
    phone.textContent = inst.phone ? `+${inst.phone}${inst.pushName ? ` · ${inst.pushName}` : ""}` : "";
    phone.hidden = !inst.phone;
  }

  async function refresh() {
    clearTimeout(timer);
    try {
      const res = await api.get("/api/instances");
      if (stopped) return;
      const instances = res.instances || [];
      // The owner column shows only when the list holds someone else's instances.
      const showOwner = session.isAdmin && instances.some((i) => i.userId && i.userId !== session.user?.id);
      if (showOwner) await ownerEmails(instances);
      if (stopped) return;
      list.classList.toggle("with-owner", showOwner);
      clear(status);
      const seen = new Set();
      let index = 0;
      for (const inst of instances) {
        seen.add(inst.id);
        let el = cards.get(inst.id);
        if (!el) {
          el = card(inst);
          cards.set(inst.id, el);
        }
        update(el, inst, showOwner);
        // Keep the server's order, moving a node only when needed (a move would drop keyboard focus).
        if (list.children[index] !== el) list.insertBefore(el, list.children[index] || null);
        index += 1;
      }
      for (const [id, el] of cards) {
        if (!seen.has(id)) {
          el.remove();
          cards.delete(id);
        }
      }
      if (!cards.size) {
        status.append(
          h(
            "div.card",
            { testid: "instances-empty" },
            h("p", "No instances yet."),
            h("p.muted", "Create one, then scan its QR code with WhatsApp on your phone (Linked devices)."),
          ),
        );
      }
    } catch (err) {
      if (stopped) return;
      clear(status).append(errorBox(err));
    } finally {
      if (!stopped) timer = setTimeout(refresh, POLL_MS);
    }
  }

  refresh();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

// Admin: users (create, rotate own key, delete), system statistics, database status and switch, the servers.

import { api, enc, session } from "../api.js";
import { busy, clear, confirmDialog, errorBox, field, fmtDate, fmtNumber, h, toast } from "../ui.js";
import { kpis } from "../tabs/stats.js";
import { showKey } from "./account.js";

export function render(root) {
  let stopped = false;

  // --- users --------------------------------------------------------------------------------------
  const usersStatus = h("div", { testid: "users-status", "aria-live": "polite" });
  const usersBody = h("tbody", { testid: "users-rows" });
  const keyBox = h("div", { testid: "user-key-box", "aria-live": "polite" });
  const email = field("Email", { type: "email", required: true, autocomplete: "off", testid: "new-user-email" });
  const password = field("Password", { type: "password", required: true, autocomplete: "new-password", testid: "new-user-password" });
  const firstName = field("First name", { type: "text", testid: "new-user-first" });
  const lastName = field("Last name", { type: "text", testid: "new-user-last" });
  const role = field("Role", { tag: "select", testid: "new-user-role", options: [["user", "user"], ["admin", "admin"]] });
  const createBtn = h("button.btn.btn-primary", { type: "submit", testid: "create-user" }, "Create user");
  const createErr = h("div", { testid: "create-user-errors", dataset: { errorTestid: "create-user-error" }, "aria-live": "assertive" });
  const createForm = h("form", { testid: "create-user-form" }, h("h3", "New user"), h("div.form-grid", email, password, firstName, lastName, role), createErr, h("div.row.end", createBtn));

  async function loadUsers() {
    try {
      const res = await api.get("/api/users");
      if (stopped) return;
      clear(usersStatus);
      clear(usersBody);
      for (const u of res.users || []) usersBody.append(userRow(u));
    } catch (err) {
      if (!stopped) clear(usersStatus).append(errorBox(err, "users-error"));
    }
  }

  function userRow(u) {
    const self = u.id === session.user?.id;
    const actions = h("td.row");
    if (self) {
      const rotate = h("button.btn.btn-small", { type: "button", testid: "rotate-key" }, "Rotate my key");
      rotate.addEventListener("click", async () => {
        if (!(await confirmDialog("Issue a new API key for you? The old key stops working at once.", "Rotate"))) return;
        busy(rotate, usersStatus, async () => {
          const res = await api.post("/api/auth/api-key");
          showKey(keyBox, res.apiKey, "rotated-key");
        });
      });
      actions.append(rotate, h("span.small.muted", "(you)"));
    } else {
      const del = h("button.btn.btn-small.btn-danger", { type: "button", testid: "delete-user" }, "Delete");
      del.addEventListener("click", async () => {
        if (!(await confirmDialog(`Delete user ${u.email}? Their instances are stopped and deleted.`, "Delete"))) return;
        busy(del, usersStatus, async () => {
          await api.del(`/api/users/${enc(u.id)}`);
          toast(`User ${u.email} deleted`);
          await loadUsers();
        });
      });
      actions.append(del);
    }
    return h(
      "tr",
      { testid: "user-row", dataset: { email: u.email, userId: u.id } },
      h("td", u.email),
      h("td.hide-sm", `${u.firstName || ""} ${u.lastName || ""}`.trim()),
      h("td", h(`span.pill${u.role === "admin" ? ".warn" : ""}`, u.role)),
      h("td.hide-sm", fmtDate(u.createdAt)),
      actions,
    );
  }

  createForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    busy(createBtn, createErr, async () => {
      const u = await api.post("/api/users", {
        email: email.input.value.trim(),
        password: password.input.value,
        firstName: firstName.input.value.trim(),
        lastName: lastName.input.value.trim(),
        role: role.input.value,
      });
      toast(`User ${u.email} created`);
      clear(keyBox).append(h("p", { testid: "created-user" }, `Created ${u.email}. Their API key:`));
      keyBox.append(...showKeyNodes(u.apiKey));
      createForm.reset();
      await loadUsers();
    });
  });

  function showKeyNodes(key) {
    const box = h("div");
    showKey(box, key, "new-user-key");
    return [...box.childNodes];
  }

  // --- system stats -------------------------------------------------------------------------------
  const sysBody = h("div", { testid: "system-stats", "aria-live": "polite" }, h("p.muted", "Loading…"));
  async function loadSystem() {
    try {
      const res = await api.get("/api/stats/system");
      if (stopped) return;
      clear(sysBody).append(
        h(
          "div.kpis",
          { testid: "system-kpis" },
          h("div.kpi", { testid: "kpi-instances" }, h("div.v", `${fmtNumber(res.instances?.active)} / ${fmtNumber(res.instances?.total)}`), h("div.k", "Instances connected / total")),
          h("div.kpi", { testid: "kpi-users" }, h("div.v", `${fmtNumber(res.users?.active)} / ${fmtNumber(res.users?.total)}`), h("div.k", "Users active / total")),
        ),
        kpis(res.usage, "system-usage"),
      );
    } catch (err) {
      if (!stopped) clear(sysBody).append(errorBox(err, "system-stats-error"));
    }
  }

  // --- database -------------------------------------------------------------------------------------
  const dbBody = h("div", { testid: "db-status", "aria-live": "polite" }, h("p.muted", "Loading…"));
  const providerNames = { sqlite: "SQLite", mongodb: "MongoDB", postgres: "PostgreSQL" };
  const provider = field("Switch to", { tag: "select", testid: "db-provider", options: Object.entries(providerNames) });
  const dbUrl = field(
    "Database URL",
    { testid: "db-switch-url", type: "text", autocomplete: "off", spellcheck: "false", placeholder: "mongodb://… or postgresql://…" },
    "Where the new store is. Leave it empty to use the server's DATABASE_URL. A password in it is never shown again.",
  );
  const showUrl = () => { dbUrl.hidden = provider.input.value === "sqlite"; };
  provider.input.addEventListener("change", showUrl);
  const switchBtn = h("button.btn.btn-danger", { type: "submit", testid: "db-switch" }, "Switch database");
  const progress = h("div", { testid: "db-progress", hidden: true }, h("progress.progress", { "aria-label": "Copying events to the new store" }), h("p.small.muted", "Copying every event to the new store and rebuilding the read models… The server keeps running."));
  const switchResult = h("div", { testid: "db-switch-result", "aria-live": "polite", dataset: { errorTestid: "db-switch-error" } });
  const switchForm = h("form", { testid: "db-switch-form" }, h("div.form-grid", provider, dbUrl), h("div.row", switchBtn), progress, switchResult);

  async function loadDb() {
    try {
      const res = await api.get("/api/db/status");
      if (stopped) return;
      clear(dbBody).append(
        h("p", "Provider: ", h("strong", { testid: "db-provider-current", title: providerNames[res.provider] || res.provider }, res.provider)),
        h("p", "URL: ", h("code", { testid: "db-url" }, res.url || "")),
      );
      provider.input.value = res.provider === "sqlite" ? "mongodb" : "sqlite";
      showUrl();
    } catch (err) {
      if (!stopped) clear(dbBody).append(errorBox(err, "db-status-error"));
    }
  }

  switchForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const target = provider.input.value;
    const url = target === "sqlite" ? "" : dbUrl.input.value.trim();
    const ok = await confirmDialog(
      `Switch the database to ${providerNames[target] || target}? Every event is copied to it and the read models are rebuilt; if anything fails the server stays on the current store.`,
      "Switch",
    );
    if (!ok) return;
    progress.hidden = false;
    await busy(switchBtn, switchResult, async () => {
      try {
        const res = await api.post("/api/db/switch", url ? { provider: target, url } : { provider: target });
        dbUrl.input.value = "";
        switchResult.append(h("p.alert.alert-ok", { testid: "db-switch-ok" }, res.message || `Switched to ${res.provider}`));
        await loadDb();
      } finally {
        progress.hidden = true;
      }
    });
  });

  // --- nodes ----------------------------------------------------------------------------------------
  const nodesBody = h("div", { testid: "cluster-nodes", "aria-live": "polite" }, h("p.muted", "Loading…"));
  async function loadNodes() {
    try {
      const res = await api.get("/api/cluster/nodes");
      if (stopped) return;
      const nodes = res.nodes || [];
      const rows = nodes.map((n) =>
        h(
          "tr",
          { testid: "cluster-node", dataset: { node: n.id } },
          h("td", h("strong", n.id), n.self ? h("span.small.muted", " (this server)") : null),
          h("td.hide-sm", h("code", n.url || "")),
          h("td", fmtNumber(n.instances)),
          h("td.hide-sm", fmtDate(n.lastSeen)),
          h("td", n.draining ? "handing its instances over" : n.alive === false ? "not answering" : "serving"),
        ),
      );
      clear(nodesBody).append(
        h(
          "div.table-wrap",
          h("table", { testid: "cluster-nodes-table" }, h("thead", h("tr", h("th", "Node"), h("th.hide-sm", "Address"), h("th", "Instances"), h("th.hide-sm", "Last seen"), h("th", "State"))), h("tbody", rows)),
        ),
        h("p.small.muted", nodes.length > 1 ? "Instances are spread over these servers; any of them answers every request." : "This server runs every instance. Servers that share one PostgreSQL database form a cluster and show here."),
      );
    } catch (err) {
      if (!stopped) clear(nodesBody).append(errorBox(err, "cluster-nodes-error"));
    }
  }

  root.append(
    h("h1", "Administration"),
    h(
      "section.card",
      { "aria-labelledby": "users-h", testid: "admin-users" },
      h("h2", { id: "users-h" }, "Users"),
      usersStatus,
      keyBox,
      h(
        "div.table-wrap",
        h("table", { testid: "users-table" }, h("thead", h("tr", h("th", "Email"), h("th.hide-sm", "Name"), h("th", "Role"), h("th.hide-sm", "Created"), h("th", h("span.visually-hidden", "Actions")))), usersBody),
      ),
      h("p.small.muted", "Users rotate their own API key from their Account page."),
      createForm,
    ),
    h("section.card", { "aria-labelledby": "sys-h", testid: "admin-system" }, h("h2", { id: "sys-h" }, "System"), sysBody),
    h("section.card", { "aria-labelledby": "db-h", testid: "admin-db" }, h("h2", { id: "db-h" }, "Database"), dbBody, switchForm),
    h("section.card", { "aria-labelledby": "nodes-h", testid: "admin-nodes" }, h("h2", { id: "nodes-h" }, "Servers"), nodesBody),
  );

  loadUsers();
  loadSystem();
  loadDb();
  loadNodes();
  return () => {
    stopped = true;
  };
}

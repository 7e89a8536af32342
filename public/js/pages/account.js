// Account: who am I, rotate my API key (shown once, never stored), my profile, my usage across instances.

import { api, enc, session } from "../api.js";
import { busy, clear, copyText, errorBox, field, fmtBytes, fmtNumber, h, toast } from "../ui.js";
import { kpis } from "../tabs/stats.js";

export function render(root) {
  const me = h("div", { testid: "account-me" }, h("p.muted", "Loading…"));
  const keyBtn = h("button.btn", { type: "button", testid: "rotate-own-key" }, "Issue a new API key");
  const keyBox = h("div", { testid: "own-key-box", "aria-live": "polite", dataset: { errorTestid: "own-key-error" } });

  const first = field("First name", { type: "text", testid: "profile-first", autocomplete: "given-name" });
  const last = field("Last name", { type: "text", testid: "profile-last", autocomplete: "family-name" });
  const pw = field("New password", { type: "password", autocomplete: "new-password", testid: "profile-password" }, "Leave empty to keep the current one.");
  const saveBtn = h("button.btn.btn-primary", { type: "submit", testid: "profile-save" }, "Save profile");
  const profileErr = h("div", { dataset: { errorTestid: "profile-error" } });
  const profile = h("form.card", { testid: "profile-form" }, h("h2", "Profile"), h("div.form-grid", first, last, pw), profileErr, h("div.row.end", saveBtn));

  const period = field("Period", { tag: "select", testid: "user-stats-period", value: "month", options: [["week", "Last 7 days"], ["month", "Last 30 days"], ["year", "Last year"], ["all", "All time"]] });
  const statsBody = h("div", { testid: "user-stats", "aria-live": "polite" });

  root.append(
    h("h1", "Account"),
    h(
      "div.grid",
      h("div.card", h("h2", "You"), me),
      h(
        "div.card",
        h("h2", "API key"),
        h("p.muted.small", "Send it as the x-api-key header. Keys are stored hashed, so a key is shown only once; a new one replaces the old one at once."),
        keyBtn,
        keyBox,
      ),
    ),
    profile,
    h("div.card", h("div.row.between", h("h2", "My usage"), h("div", period)), statsBody),
  );

  let stopped = false;
  api
    .get("/api/auth/me")
    .then((u) => {
      if (stopped) return;
      session.save(null, u);
      first.input.value = u.firstName || "";
      last.input.value = u.lastName || "";
      clear(me).append(
        h("p", h("strong", `${u.firstName || ""} ${u.lastName || ""}`.trim() || u.email)),
        h("p", { testid: "account-email" }, u.email),
        h("p", h("span.pill", { testid: "account-role" }, u.role)),
      );
    })
    .catch((err) => clear(me).append(errorBox(err)));

  keyBtn.addEventListener("click", () =>
    busy(keyBtn, keyBox, async () => {
      const res = await api.post("/api/auth/api-key");
      showKey(keyBox, res.apiKey, "own-api-key");
    }),
  );

  profile.addEventListener("submit", (ev) => {
    ev.preventDefault();
    busy(saveBtn, profileErr, async () => {
      const body = { firstName: first.input.value.trim(), lastName: last.input.value.trim() };
      if (pw.input.value) body.password = pw.input.value;
      const u = await api.put(`/api/users/${enc(session.user.id)}`, body);
      // A new password ends every earlier token, this one too: log in again with it to stay signed in.
      const token = body.password
        ? (await api.post("/api/auth/login", { email: u.email, password: body.password }, { auth: false })).token
        : null;
      session.save(token, u);
      pw.input.value = "";
      toast("Profile saved");
    });
  });

  async function loadStats() {
    clear(statsBody).append(h("p.muted", "Loading…"));
    try {
      const res = await api.get("/api/stats/user", { query: { period: period.input.value } });
      if (stopped) return;
      const rows = res.instances || [];
      clear(statsBody).append(
        kpis(res.total, "user-kpis", [["instanceCount", "Instances"]]),
        h(
          "div.table-wrap",
          h(
            "table",
            { testid: "user-stats-table" },
            h("thead", h("tr", h("th", "Instance"), h("th", "Sent"), h("th", "Received"), h("th.hide-sm", "Media"), h("th.hide-sm", "Size"), h("th", "API calls"), h("th.hide-sm", "Webhooks"))),
            h(
              "tbody",
              rows.length
                ? rows.map((r) =>
                    h(
                      "tr",
                      h("td", h("a", { href: `#/instances/${enc(r.instanceId)}/stats` }, r.name || r.instanceId)),
                      h("td", fmtNumber(r.messagesSent)),
                      h("td", fmtNumber(r.messagesReceived)),
                      h("td.hide-sm", `${fmtNumber(r.mediaSent)} / ${fmtNumber(r.mediaReceived)}`),
                      h("td.hide-sm", fmtBytes(r.totalMediaSize)),
                      h("td", fmtNumber(r.apiCalls)),
                      h("td.hide-sm", fmtNumber(r.webhookSent)),
                    ),
                  )
                : h("tr", h("td", { colspan: 7 }, "No instances.")),
            ),
          ),
        ),
      );
    } catch (err) {
      if (!stopped) clear(statsBody).append(errorBox(err, "user-stats-error"));
    }
  }
  period.input.addEventListener("change", loadStats);
  loadStats();
  return () => {
    stopped = true;
  };
}

/** Show a freshly issued secret once, with a copy button. It is never written to storage. */
export function showKey(box, key, testid) {
  clear(box).append(
    h("p.alert.alert-warn", "Copy it now: it will not be shown again."),
    h("div.row", h("code.secret", { testid }, key), h("button.btn.btn-small", { type: "button", onclick: () => copyText(key) }, "Copy")),
  );
}

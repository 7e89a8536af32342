// Webhook deliveries: list by status, retry a failed one, send a test event.

import { api, enc } from "../api.js";
import { meta } from "../meta.js";
import { addOptions, busy, clear, errorBox, field, fmtDate, h, toast } from "../ui.js";

export function render(root, ctx) {
  const summary = h("div", { testid: "webhook-summary" });
  const testBtn = h("button.btn", { type: "button", testid: "webhook-test" }, "Send a test event");
  const testResult = h("div", { testid: "webhook-test-result", "aria-live": "polite", dataset: { errorTestid: "webhook-test-error" } });
  const filter = field("Status", {
    tag: "select",
    testid: "deliveries-filter",
    options: [["", "All"]],
  });
  const status = h("div", { testid: "deliveries-status", "aria-live": "polite" });
  meta()
    .then((m) => addOptions(filter.input, m.deliveryStatuses, (v) => v[0].toUpperCase() + v.slice(1)))
    .catch((err) => clear(status).append(errorBox(err, "deliveries-error")));
  const tbody = h("tbody", { testid: "deliveries-rows" });
  const refreshBtn = h("button.btn.btn-small", { type: "button", testid: "deliveries-refresh" }, "Refresh");

  root.append(
    h("div.card", h("div.row.between", h("h2", "Webhook"), h("a.btn.btn-small", { href: `#/instances/${enc(ctx.id)}/edit`, testid: "webhook-edit" }, "Edit settings")), summary, h("div.row", testBtn), testResult),
    h(
      "div.card",
      h("div.row.between", h("h2", "Deliveries"), refreshBtn),
      h("div.form-grid", filter),
      status,
      h(
        "div.table-wrap",
        h(
          "table",
          { testid: "deliveries-table" },
          h("thead", h("tr", h("th", "Event"), h("th", "Status"), h("th.hide-sm", "Attempts"), h("th", "Last error"), h("th.hide-sm", "When"), h("th", h("span.visually-hidden", "Actions")))),
          tbody,
        ),
      ),
    ),
  );

  let stopped = false;

  ctx.ready
    .then((inst) => {
      if (stopped) return;
      clear(summary).append(
        inst.webhookUrl
          ? h("p", { testid: "webhook-target" }, h("code", inst.webhookUrl), " ", inst.webhookEnabled ? h("span.pill.ok", "enabled") : h("span.pill.bad", "disabled"))
          : h("p.muted", { testid: "webhook-target" }, "No webhook URL set."),
      );
    })
    .catch(() => {});

  async function load() {
    try {
      const res = await api.get(`/api/instances/${enc(ctx.id)}/webhook/deliveries`, { query: { status: filter.input.value || undefined } });
      if (stopped) return;
      clear(status);
      clear(tbody);
      const rows = res.deliveries || res.items || [];
      for (const d of rows) tbody.append(row(d));
      if (!rows.length) tbody.append(h("tr", h("td", { colspan: 6, testid: "deliveries-empty" }, "No deliveries.")));
    } catch (err) {
      if (!stopped) {
        clear(tbody);
        clear(status).append(errorBox(err, "deliveries-error"));
      }
    }
  }

  function row(d) {
    const id = d.id || d.deliveryId;
    const st = d.status || "unknown";
    const retry = h("button.btn.btn-small", { type: "button", testid: "delivery-retry", hidden: st !== "failed" }, "Retry");
    const err = d.lastError || d.error || (d.responseStatus ? `HTTP ${d.responseStatus}` : d.statusCode ? `HTTP ${d.statusCode}` : "");
    retry.addEventListener("click", () =>
      busy(retry, status, async () => {
        const res = await api.post(`/api/instances/${enc(ctx.id)}/webhook/deliveries/${enc(id)}/retry`);
        toast(res?.message || "Retry queued");
        await load();
      }),
    );
    return h(
      "tr",
      { testid: "delivery-row", dataset: { deliveryId: id || "", status: st } },
      h("td", h("code", d.event || d.type || "—")),
      h("td", h(`span.pill${st === "delivered" ? ".ok" : st === "failed" ? ".bad" : ".warn"}`, { testid: "delivery-status" }, st)),
      h("td.hide-sm", String(d.attempts ?? d.attempt ?? "")),
      h("td.small", err),
      h("td.hide-sm", fmtDate(d.updatedAt || d.lastAttemptAt || d.createdAt)),
      h("td", retry),
    );
  }

  testBtn.addEventListener("click", () =>
    busy(testBtn, testResult, async () => {
      const res = await api.post(`/api/instances/${enc(ctx.id)}/webhook/test`);
      testResult.append(h("p.alert.alert-ok", { testid: "webhook-test-ok" }, res?.message || "Test event sent"));
      setTimeout(load, 500);
    }),
  );
  filter.input.addEventListener("change", load);
  refreshBtn.addEventListener("click", () => busy(refreshBtn, null, load));
  let debounce = null;
  const off = ctx.live.on(() => {
    clearTimeout(debounce);
    debounce = setTimeout(load, 1000);
  });
  load();
  return () => {
    stopped = true;
    clearTimeout(debounce);
    off();
  };
}

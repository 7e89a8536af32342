// The deliveries, newest first, filtered by target and status: the event, its status, attempts, the next try,
// the last error (only when not delivered), the receiver's answer (status code, latency); "Retry" on a failed
// or cancelled one, "Retry all failed".

import { api, enc } from "../api.js";
import { meta } from "../meta.js";
import { busy, clear, errorBox, field, fmtDate, h, toast } from "../ui.js";
import { deliveryLabel, deliveryPill, eventLabel, targetName, when } from "./words.js";

const PAGE = 50;
const MAX_PAGE = 500; // the route's limit
const RETRYABLE = new Set(["failed", "cancelled"]);

/** The deliveries card. Returns {node, load(), setTargets(targets), showTarget(id)}. */
export function deliveriesCard(ctx) {
  const target = field("Target", { tag: "select", testid: "deliveries-target-filter", options: [["", "All targets"]] });
  const filter = field("Status", { tag: "select", testid: "deliveries-filter", options: [["", "All"]] });
  const status = h("div", { testid: "deliveries-status", "aria-live": "polite", dataset: { errorTestid: "deliveries-error" } });
  meta()
    .then((m) => {
      for (const v of m.deliveryStatuses || []) filter.input.append(h("option", { value: v }, deliveryLabel(v)));
    })
    .catch((err) => clear(status).append(errorBox(err, "deliveries-error")));
  const tbody = h("tbody", { testid: "deliveries-rows" });
  const refreshBtn = h("button.btn.btn-small", { type: "button", testid: "deliveries-refresh" }, "Refresh");
  const retryAll = h("button.btn.btn-small", { type: "button", testid: "deliveries-retry-failed", title: "Send again the failed and cancelled deliveries (of the chosen target)" }, "Retry all failed");
  const more = h("button.btn.btn-small", { type: "button", testid: "deliveries-more", hidden: true }, "Show more");
  const summary = h("p.small.muted", { testid: "deliveries-count" });
  let names = new Map(); // webhook id -> short name
  let limit = PAGE;
  let seq = 0;

  const node = h(
    "section.card",
    { testid: "deliveries", "aria-labelledby": "deliveries-title" },
    h("div.row.between", h("h2", { id: "deliveries-title" }, "Deliveries"), h("div.row", retryAll, refreshBtn)),
    h("p.small.muted", "Every event sent to a target, newest first. A failed delivery can be sent again."),
    h("div.form-grid", target, filter),
    status,
    h(
      "div.table-wrap",
      h(
        "table.deliveries-table",
        { testid: "deliveries-table" },
        h(
          "thead",
          h("tr", ["Event", "Status", "Target", "Attempts", "Next try", "Answer", "Last error", "When"].map((t) => h("th", t)), h("th", h("span.visually-hidden", "Actions"))),
        ),
        tbody,
      ),
    ),
    h("div.row.between", summary, more),
  );

  async function load() {
    const mine = ++seq;
    try {
      const res = await api.get(`/api/instances/${enc(ctx.id)}/webhook/deliveries`, {
        query: { status: filter.input.value || undefined, webhookId: target.input.value || undefined, limit },
      });
      if (mine !== seq) return;
      clear(status);
      clear(tbody);
      const rows = res.deliveries || res.items || [];
      for (const d of rows) tbody.append(row(d));
      if (!rows.length) tbody.append(h("tr", h("td", { colspan: 9, testid: "deliveries-empty" }, "No deliveries.")));
      const total = res.pagination?.total ?? rows.length;
      summary.textContent = rows.length ? `${rows.length} of ${total}` : "";
      more.hidden = !(total > rows.length && limit < MAX_PAGE);
    } catch (err) {
      if (mine !== seq) return;
      clear(tbody);
      clear(status).append(errorBox(err, "deliveries-error"));
    }
  }

  function row(d) {
    const id = d.id || d.deliveryId;
    const st = d.status || "unknown";
    const code = d.lastStatusCode ?? d.responseStatus ?? d.statusCode ?? null;
    const latency = d.latencyMs ?? d.lastLatencyMs ?? null;
    const answer = [code !== null ? `HTTP ${code}` : null, typeof latency === "number" ? `${Math.round(latency)} ms` : null].filter(Boolean).join(" · ");
    // A delivered row has no error, whatever the last attempt before it said.
    const error = st === "delivered" ? "" : d.lastError || d.error || "";
    const retry = RETRYABLE.has(st) ? h("button.btn.btn-small", { type: "button", testid: "delivery-retry" }, "Retry") : null;
    retry?.addEventListener("click", () =>
      busy(retry, status, async () => {
        await api.post(`/api/instances/${enc(ctx.id)}/webhook/deliveries/${enc(id)}/retry`);
        toast("Sent again: it is waiting to go out");
        await load();
      }),
    );
    const wid = d.webhookId || "default";
    return h(
      "tr",
      { testid: "delivery-row", dataset: { deliveryId: id || "", status: st, webhookId: wid, event: d.event || "" } },
      cell("Event", h("span", { testid: "delivery-event", title: d.event || "" }, eventLabel(d.event || d.type || "—"))),
      cell("Status", h(`span.pill${deliveryPill(st) ? `.${deliveryPill(st)}` : ""}`, { testid: "delivery-status" }, deliveryLabel(st))),
      cell("Target", h("span.small", { testid: "delivery-target" }, names.get(wid) || (wid === "default" ? "Default target" : d.url || wid))),
      cell("Attempts", h("span", { testid: "delivery-attempts" }, String(d.attempts ?? d.attempt ?? 0))),
      cell("Next try", h("span.small", { testid: "delivery-next" }, st === "pending" && d.nextAttemptAt ? when(d.nextAttemptAt) : "")),
      cell("Answer", h("span.small", { testid: "delivery-answer" }, answer)),
      cell("Last error", h("span.small", { testid: "delivery-error" }, error)),
      cell("When", h("span.small", { title: fmtDate(d.createdAt) }, when(d.createdAt || d.updatedAt))),
      h("td.actions", retry),
    );
  }

  function cell(label, content) {
    const empty = !content.textContent;
    return h(`td${empty ? ".empty" : ""}`, { dataset: { label } }, content);
  }

  function setTargets(targets) {
    names = new Map(targets.map((t) => [t.id, targetName(t)]));
    const chosen = target.input.value;
    const select = target.input;
    while (select.options.length > 1) select.remove(1);
    for (const t of targets) select.append(h("option", { value: t.id }, targetName(t)));
    const deleted = chosen && !names.has(chosen);
    if (deleted) select.append(h("option", { value: chosen }, "A deleted target"));
    select.value = chosen;
  }

  function showTarget(id) {
    target.input.value = id;
    limit = PAGE;
    load();
    node.scrollIntoView({ block: "start" });
  }

  retryAll.addEventListener("click", () =>
    busy(retryAll, status, async () => {
      const res = await api.post(`/api/instances/${enc(ctx.id)}/webhook/deliveries/retry-failed`, {}, { query: { webhookId: target.input.value || undefined } });
      const n = res?.count ?? 0;
      toast(n ? `${n} failed ${n === 1 ? "delivery" : "deliveries"} sent again` : "No failed deliveries to send again");
      await load();
    }),
  );
  const reset = () => {
    limit = PAGE;
    load();
  };
  filter.input.addEventListener("change", reset);
  target.input.addEventListener("change", reset);
  refreshBtn.addEventListener("click", () => busy(refreshBtn, null, load));
  more.addEventListener("click", () => {
    limit = Math.min(MAX_PAGE, limit + PAGE);
    busy(more, null, load);
  });

  return { node, load, setTargets, showTarget };
}

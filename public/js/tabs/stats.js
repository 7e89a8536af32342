// Usage statistics of one instance, with a per-day chart (inline SVG).

import { api, enc } from "../api.js";
import { dailyChart } from "../chart.js";
import { clear, errorBox, field, fmtBytes, fmtNumber, h } from "../ui.js";

export const KPI_LABELS = [
  ["messagesSent", "Messages sent"],
  ["messagesReceived", "Messages received"],
  ["mediaSent", "Media sent"],
  ["mediaReceived", "Media received"],
  ["totalMediaSize", "Media size", fmtBytes],
  ["apiCalls", "API calls"],
  ["webhookSent", "Webhooks delivered"],
];

export function kpis(values, testid = "kpis", extra = []) {
  return h(
    "div.kpis",
    { testid },
    [...extra, ...KPI_LABELS].map(([key, label, fmt]) =>
      h("div.kpi", { testid: `kpi-${key}` }, h("div.v", (fmt || fmtNumber)(values?.[key] ?? 0)), h("div.k", label)),
    ),
  );
}

export function render(root, ctx) {
  const period = field("Period", { tag: "select", testid: "stats-period", value: "week", options: [["today", "Today"], ["week", "Last 7 days"], ["month", "Last 30 days"], ["all", "All time"]] });
  const body = h("div", { testid: "stats-body", "aria-live": "polite" });
  root.append(h("div.card", h("div.row.between", h("h2", "Usage"), h("div", period)), body));
  let stopped = false;

  async function load() {
    clear(body).append(h("p.muted", "Loading…"));
    try {
      const res = await api.get(`/api/stats/instances/${enc(ctx.id)}`, { query: { period: period.input.value } });
      if (stopped) return;
      const usage = res.usage || {};
      clear(body).append(kpis(usage, "instance-kpis"), h("h3", "Per day"), dailyChart(usage.dailyStats || []));
    } catch (err) {
      if (!stopped) clear(body).append(errorBox(err, "stats-error"));
    }
  }
  period.input.addEventListener("change", load);
  load();
  return () => {
    stopped = true;
  };
}

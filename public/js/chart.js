// A small grouped bar chart in inline SVG (sent vs received per day). No chart library.

import { h, svg } from "./ui.js";

export function dailyChart(days, { testid = "daily-chart", title = "Messages per day" } = {}) {
  const rows = (days || []).map((d) => ({
    date: new Date(d.date),
    sent: Number(d.messagesSent || 0),
    received: Number(d.messagesReceived || 0),
  }));
  if (!rows.length) return h("p.muted", { testid: `${testid}-empty` }, "No daily data for this period yet.");
  const W = 640;
  const H = 200;
  const pad = { l: 34, r: 8, t: 10, b: 28 };
  const max = Math.max(1, ...rows.map((r) => Math.max(r.sent, r.received)));
  const niceMax = niceCeil(max);
  const innerW = W - pad.l - pad.r;
  const innerH = H - pad.t - pad.b;
  const slot = innerW / rows.length;
  const bw = Math.max(1, Math.min(18, (slot - 4) / 2));
  const y = (v) => pad.t + innerH - (v / niceMax) * innerH;
  const labelEvery = Math.ceil(rows.length / 10);
  const titleId = `${testid}-title`;
  const chart = svg(
    "svg",
    { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": titleId, "data-testid": testid, preserveAspectRatio: "xMidYMid meet" },
    svg("title", { id: titleId }, title),
    [0, 0.5, 1].map((f) => [
      svg("line", { class: "axis", x1: pad.l, x2: W - pad.r, y1: y(niceMax * f), y2: y(niceMax * f) }),
      svg("text", { x: pad.l - 4, y: y(niceMax * f) + 3, "text-anchor": "end" }, fmt(niceMax * f)),
    ]),
    rows.map((r, i) => {
      const x0 = pad.l + i * slot + slot / 2 - bw;
      const label = r.date.toLocaleDateString(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
      return svg(
        "g",
        { "data-testid": "chart-day" },
        svg("rect", { class: "bar-sent", x: x0, y: y(r.sent), width: bw, height: Math.max(0, y(0) - y(r.sent)) }, svg("title", {}, `${label}: ${r.sent} sent`)),
        svg("rect", { class: "bar-received", x: x0 + bw, y: y(r.received), width: bw, height: Math.max(0, y(0) - y(r.received)) }, svg("title", {}, `${label}: ${r.received} received`)),
        i % labelEvery === 0 ? svg("text", { x: x0 + bw, y: H - pad.b + 14, "text-anchor": "middle" }, label) : null,
      );
    }),
  );
  return h(
    "figure",
    { class: "chart-figure" },
    chart,
    h("figcaption.legend", h("span", h("span.sw.sw-sent"), "sent"), h("span", h("span.sw.sw-received"), "received")),
  );
}

function niceCeil(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmt(v) {
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

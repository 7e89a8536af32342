// The activity log: newest first, filter by action, page with "load more", refreshed on live events. Each
// entry says in words what happened (../activity-words.js); its raw fields are behind "details".

import { actionLabel, describe } from "../activity-words.js";
import { api, enc } from "../api.js";
import { meta } from "../meta.js";
import { addOptions, clear, errorBox, field, fmtDate, h } from "../ui.js";

// How each action is coloured (presentation only: the list of actions comes from GET /api/meta).
const TONE = {
  created: ".ok",
  connected: ".ok",
  logged_out: ".bad",
  limit_exceeded: ".bad",
  deleted: ".bad",
  disconnected: ".bad",
  failed: ".bad",
  qr_received: ".warn",
  reconnect_requested: ".warn",
  call_received: ".warn",
};
const PAGE = 50;
const POLL_MS = 4000;
const POLL_STREAMING_MS = 30000;

export function render(root, ctx) {
  const filter = field("Action", { tag: "select", testid: "activity-filter", options: [["", "All actions"]] });
  const status = h("div", { testid: "activity-status", "aria-live": "polite" });
  meta()
    .then((m) => addOptions(filter.input, m.activityActions, actionLabel))
    .catch((err) => clear(status).append(errorBox(err, "activity-error")));
  const tbody = h("tbody", { testid: "activity-rows" });
  const more = h("button.btn", { type: "button", testid: "activity-more", hidden: true }, "Load more");
  const total = h("p.small.muted", { testid: "activity-total" });
  root.append(
    h(
      "div.card",
      h("h2", "Activity"),
      h("div.form-grid", filter),
      status,
      total,
      h("div.table-wrap", h("table.activity-table", { testid: "activity-table" }, h("thead", h("tr", h("th", "When"), h("th", "Action"), h("th", "What happened"))), tbody)),
      h("div.row", more),
    ),
  );

  let loaded = 0;
  let stopped = false;
  let timer = null;
  let seq = 0;

  async function load(reset) {
    clearTimeout(timer);
    const mine = ++seq;
    const skip = reset ? 0 : loaded;
    // A refresh reloads everything shown so far, so new rows appear on top without losing the page.
    const limit = reset ? Math.max(PAGE, loaded) : PAGE;
    try {
      const res = await api.get(`/api/instances/${enc(ctx.id)}/activity`, { query: { limit, skip, actions: filter.input.value || undefined } });
      if (stopped || mine !== seq) return;
      clear(status);
      // A refresh redraws the rows: a "details" left open stays open.
      const open = new Set([...tbody.querySelectorAll("details[open]")].map((d) => d.dataset.key));
      if (reset) {
        clear(tbody);
        loaded = 0;
      }
      for (const log of res.logs || []) {
        const raw = log.details && Object.keys(log.details).length ? JSON.stringify(log.details, null, 2) : "";
        const key = `${log.createdAt}|${log.action}`;
        tbody.append(
          h(
            "tr",
            { testid: "activity-row", dataset: { action: log.action } },
            h("td", h("time", { datetime: log.createdAt }, fmtDate(log.createdAt))),
            h("td", h(`span.pill${pillClass(log.action)}`, { testid: "activity-action", title: log.action }, actionLabel(log.action))),
            h(
              "td",
              h("span", { testid: "activity-words" }, describe(log)),
              raw
                ? h("details.activity-details", { testid: "activity-details", dataset: { key }, open: open.has(key) }, h("summary.small", "details"), h("pre.small", { testid: "activity-raw" }, raw))
                : null,
            ),
          ),
        );
      }
      loaded += (res.logs || []).length;
      const p = res.pagination || {};
      more.hidden = !p.hasMore;
      total.textContent = p.total !== undefined ? `${p.total} entries` : "";
      if (!tbody.children.length) tbody.append(h("tr", h("td", { colspan: 3, testid: "activity-empty" }, "No activity yet.")));
    } catch (err) {
      if (!stopped && mine === seq) clear(status).append(errorBox(err, "activity-error"));
    } finally {
      if (!stopped && mine === seq) timer = setTimeout(() => load(true), ctx.live.every(POLL_MS, POLL_STREAMING_MS));
    }
  }

  filter.input.addEventListener("change", () => {
    loaded = 0;
    load(true);
  });
  more.addEventListener("click", () => load(false));
  let debounce = null;
  const off = ctx.live.on(() => {
    clearTimeout(debounce);
    debounce = setTimeout(() => load(true), 200);
  });
  load(true);
  return () => {
    stopped = true;
    clearTimeout(timer);
    clearTimeout(debounce);
    off();
  };
}

function pillClass(action) {
  return TONE[action] || "";
}

// The live event feed: what the SSE stream (or the polling fallback) delivers, newest on top.

import { meta } from "../meta.js";
import { clear, errorBox, field, fmtDate, h } from "../ui.js";

let connection = []; // the events that change the instance's status, from GET /api/meta
// What happens in chats: messages and what is done to them, poll votes, typing.
const isChat = (t) => t.startsWith("message") || t === "poll_vote" || t === "presence_update";
const GROUPS = {
  "": () => true,
  messages: isChat,
  connection: (t) => connection.includes(t),
  other: (t) => !isChat(t) && !connection.includes(t),
};
const MAX_SHOWN = 200;

export function render(root, ctx) {
  const mode = h("span.pill", { testid: "feed-mode" });
  const modeError = h("div", { testid: "feed-errors" });
  const filter = field("Show", { tag: "select", testid: "feed-filter", options: [["", "All events"], ["messages", "Messages"], ["connection", "Connection"], ["other", "Other"]] });
  const pause = h("button.btn.btn-small", { type: "button", testid: "feed-pause", "aria-pressed": "false" }, "Pause");
  const list = h("ol.feed", { testid: "event-feed", "aria-live": "polite", "aria-relevant": "additions" });
  root.append(
    h(
      "div.card",
      h("div.row.between", h("h2", "Live events"), h("div.row", mode, pause)),
      modeError,
      h("div.form-grid", filter),
      list,
    ),
  );

  let paused = false;
  function showMode(m, err) {
    const labels = { idle: "idle", connecting: "connecting…", sse: "live (stream)", polling: "live (polling)", error: "unavailable" };
    mode.textContent = labels[m] || m;
    mode.className = `pill ${m === "sse" || m === "polling" ? "ok" : m === "error" ? "bad" : "warn"}`;
    mode.dataset.mode = m;
    clear(modeError);
    if (m === "error" && err) modeError.append(errorBox(err, "feed-error"));
  }

  function item(e) {
    const data = e.data || {};
    const votes = Array.isArray(data.selectedOptions) ? data.selectedOptions.join(", ") : null;
    const summary = data.body ?? data.emoji ?? votes ?? data.state ?? data.status ?? data.reason ?? "";
    return h(
      "li",
      { testid: "feed-item", dataset: { type: e.type } },
      h("span.type", e.type),
      h("span.when", h("time", { datetime: e.timestamp || "" }, fmtDate(e.timestamp))),
      summary !== "" ? h("span.small", { testid: "feed-summary" }, String(summary)) : null,
      h("pre", JSON.stringify(data, null, 1)),
    );
  }

  function redraw() {
    clear(list);
    const keep = GROUPS[filter.input.value] || GROUPS[""];
    const shown = ctx.live.events.filter((e) => keep(String(e.type || ""))).slice(-MAX_SHOWN).reverse();
    if (!shown.length) list.append(h("li.muted", { testid: "feed-empty" }, "No events yet: they appear here as they happen."));
    for (const e of shown) list.append(item(e));
  }

  function add(fresh) {
    if (paused) return;
    const keep = GROUPS[filter.input.value] || GROUPS[""];
    const items = fresh.filter((e) => keep(String(e.type || "")));
    if (!items.length) return;
    list.querySelector('[data-testid="feed-empty"]')?.remove();
    for (const e of items) list.prepend(item(e));
    while (list.children.length > MAX_SHOWN) list.lastChild.remove();
  }

  pause.addEventListener("click", () => {
    paused = !paused;
    pause.setAttribute("aria-pressed", String(paused));
    pause.textContent = paused ? "Resume" : "Pause";
    if (!paused) redraw();
  });
  filter.input.addEventListener("change", redraw);
  const offMode = ctx.live.onMode(showMode);
  const off = ctx.live.on(add);
  showMode(ctx.live.mode, ctx.live.error);
  redraw();
  let stopped = false;
  meta()
    .then((m) => {
      connection = m.statusEventTypes;
      if (!stopped) redraw();
    })
    .catch(() => {}); // without the list, "Connection" shows nothing and "Other" shows all non-messages
  return () => {
    stopped = true;
    offMode();
    off();
  };
}

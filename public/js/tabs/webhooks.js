// Webhooks: the instance's targets (../webhooks/targets.js) with their state and backlog, the form to add or
// edit one (../webhooks/form.js), "send again" (replay), and the deliveries (../webhooks/deliveries.js).
// The default target is the instance's own webhook; a server without targets (GET …/webhooks answers
// "route not found") shows it alone, from the instance.

import { api, enc } from "../api.js";
import { meta } from "../meta.js";
import { clear, errorBox, h } from "../ui.js";
import { deliveriesCard } from "../webhooks/deliveries.js";
import { targetForm } from "../webhooks/form.js";
import { replayPanel, targetList } from "../webhooks/targets.js";

const MAX_TARGETS = 10; // besides the default one (the server answers 409 too_many_webhooks past it)
const BUSY_POLL_MS = 4000; // while something waits or retries
const IDLE_POLL_MS = 30000;

export function render(root, ctx) {
  const status = h("div", { testid: "webhooks-status", "aria-live": "polite" });
  const addBtn = h("button.btn.btn-primary.btn-small", { type: "button", testid: "webhook-add", hidden: true }, "Add a target");
  const list = targetList({ ctx, edit: (t) => openForm(t), replay: (t) => openReplay(t), deliveries: (t) => deliveries.showTarget(t.id), changed: () => refresh({ instance: true }) });
  const editor = h("section.card.webhook-editor", { testid: "webhook-editor", hidden: true });
  const deliveries = deliveriesCard(ctx);
  root.append(
    h(
      "section.card",
      { testid: "webhook-summary", "aria-labelledby": "webhooks-title" },
      h("div.row.between", h("h2", { id: "webhooks-title" }, "Webhook targets"), addBtn),
      h("p.small.muted", "Each event goes to every target that wants it, in order. A target that is down is tried again later, and never holds back the others."),
      status,
      list.node,
    ),
    editor,
    deliveries.node,
  );

  let stopped = false;
  let inst = null;
  let targets = [];
  let timer = null;
  let debounce = null;

  async function loadTargets() {
    inst = await ctx.ready;
    try {
      const res = await api.get(`/api/instances/${enc(ctx.id)}/webhooks`);
      targets = res.webhooks || [];
      addBtn.hidden = targets.filter((t) => t.id !== "default").length >= MAX_TARGETS;
    } catch (err) {
      if (!err.missingRoute) throw err;
      // An older server: the instance's webhook is its only target.
      const ws = inst.webhookSettings || {};
      targets = [{ id: "default", legacy: true, url: inst.webhookUrl, enabled: inst.webhookEnabled, secret: ws.secret ? "***" : null, headers: ws.headers, maxRetries: ws.maxRetries, retryInterval: ws.retryInterval }];
      addBtn.hidden = true;
    }
    if (stopped) return;
    clear(status);
    list.show(targets, inst);
    deliveries.setTargets(targets);
  }

  async function refresh({ instance = false } = {}) {
    clearTimeout(timer);
    try {
      if (instance) await ctx.refreshInstance().then((fresh) => (ctx.ready = Promise.resolve(fresh)));
      await loadTargets(); // first: the deliveries name their targets
    } catch (err) {
      if (!stopped) clear(status).append(errorBox(err, "webhooks-error"));
    }
    try {
      await deliveries.load(); // shows its own errors
    } finally {
      const busyNow = targets.some((t) => t.pending || t.state === "retrying");
      clearTimeout(timer); // refreshes that overlapped leave one timer
      if (!stopped) timer = setTimeout(refresh, busyNow ? BUSY_POLL_MS : ctx.live.every(BUSY_POLL_MS * 2, IDLE_POLL_MS));
    }
  }

  function openPanel(content) {
    clear(editor).append(content);
    editor.hidden = false;
    editor.scrollIntoView({ block: "start" });
    editor.querySelector("input:not([type=hidden]):not([disabled])")?.focus({ preventScroll: true });
  }

  function closePanel() {
    clear(editor);
    editor.hidden = true;
  }

  async function openForm(target) {
    const m = await meta().catch(() => ({}));
    const fresh = target?.id === "default" ? await ctx.refreshInstance().catch(() => inst) : inst;
    openPanel(
      targetForm(ctx, target, fresh, m, {
        saved: () => {
          closePanel();
          refresh({ instance: target?.id === "default" });
        },
        cancel: closePanel,
      }),
    );
  }

  function openReplay(target) {
    openPanel(replayPanel(ctx, target, { close: closePanel, done: () => refresh() }));
  }

  addBtn.addEventListener("click", () => openForm(null));
  const off = ctx.live.on(() => {
    clearTimeout(debounce);
    debounce = setTimeout(() => refresh(), 1000);
  });
  refresh();
  return () => {
    stopped = true;
    clearTimeout(timer);
    clearTimeout(debounce);
    off();
  };
}

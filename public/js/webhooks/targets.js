// The list of an instance's webhook targets: address, the events each gets, an on/off switch, its state
// (delivering normally / retrying / paused), its backlog, and per target: send a test event (the receiver's
// status code and the latency), edit, send again (replay), its deliveries, delete.

import { api, enc } from "../api.js";
import { busy, clear, confirmDialog, errorBox, errorText, h, toast } from "../ui.js";
import { eventsSummary, notifySummary, stateWords, targetName } from "./words.js";

/**
 * opts: ctx, edit(t), replay(t), deliveries(t), changed() (reload the list). Returns {node, show(targets, inst)}.
 * Test results are kept per target, so a redraw (the list is refreshed while deliveries go on) keeps them.
 */
export function targetList({ ctx, edit, replay, deliveries, changed }) {
  const node = h("ul.webhook-targets", { testid: "webhook-targets" });
  const results = new Map(); // target id -> the last test's result node
  let shown = null;

  function show(targets, inst) {
    const sig = JSON.stringify([targets, inst?.webhookSettings, inst?.webhookUrl, inst?.webhookEnabled]);
    if (sig === shown) return;
    shown = sig;
    clear(node).append(...targets.map((t) => item(t, inst)));
  }

  function item(t, inst) {
    const isDefault = t.id === "default";
    const words = stateWords(t);
    const result = results.get(t.id) || h("div", { testid: "webhook-test-result", "aria-live": "polite", dataset: { errorTestid: "webhook-test-error" } });
    results.set(t.id, result);
    const events = isDefault && inst?.webhookSettings ? notifySummary(inst.webhookSettings) : eventsSummary(t.events);

    const testBtn = h("button.btn.btn-small", { type: "button", testid: "webhook-test", disabled: !t.url }, "Send a test event");
    testBtn.addEventListener("click", () => busy(testBtn, result, () => runTest(t, result)));
    const editBtn = h("button.btn.btn-small", { type: "button", testid: "webhook-edit-target" }, isDefault && !t.url ? "Set up" : "Edit");
    editBtn.addEventListener("click", () => edit(t));
    const off = !t.url || t.enabled === false;
    const replayBtn = t.legacy ? null : h("button.btn.btn-small", { type: "button", testid: "webhook-replay", disabled: off, title: off ? "Turn the target on to send events again" : null }, "Send again…");
    replayBtn?.addEventListener("click", () => replay(t));
    const listBtn = h("button.btn.btn-small", { type: "button", testid: "webhook-show-deliveries" }, "Deliveries");
    listBtn.addEventListener("click", () => deliveries(t));
    const delBtn = isDefault ? null : h("button.btn.btn-small.btn-danger", { type: "button", testid: "webhook-delete" }, "Delete");
    delBtn?.addEventListener("click", () => remove(t, delBtn, result));

    const backlog =
      t.pending === undefined && t.failed === undefined
        ? null
        : h(
            "p.small",
            { testid: "webhook-backlog", dataset: { pending: String(t.pending ?? 0), failed: String(t.failed ?? 0), cancelled: String(t.cancelled ?? 0) } },
            t.pending || t.failed || t.cancelled
              ? [
                  t.pending ? `${t.pending} waiting to be sent` : null,
                  t.failed ? h("span.bad-text", `${t.failed} failed`) : null,
                  t.cancelled ? `${t.cancelled} cancelled while paused` : null,
                ]
                  .filter(Boolean)
                  .flatMap((x, i) => (i ? [" · ", x] : [x]))
              : "Nothing waiting",
          );

    return h(
      "li.webhook-target",
      { testid: "webhook-target", dataset: { webhookId: t.id, state: words.state, enabled: String(t.enabled !== false) } },
      h(
        "div.webhook-target-head",
        h("div.webhook-target-title", h("h3", { testid: "webhook-name" }, targetName(t)), t.url ? h("code.webhook-url", { testid: "webhook-url" }, t.url) : h("span.muted.small", { testid: "webhook-url" }, "No address set")),
        enabledSwitch(t),
      ),
      h("p.small", h("span.muted", "Gets: "), h("span", { testid: "webhook-events" }, events)),
      h(
        "p.small.webhook-state",
        { testid: "webhook-state", dataset: { state: words.state } },
        h(`span.pill${words.pill ? `.${words.pill}` : ""}`, { testid: "webhook-state-label" }, words.label),
        words.detail ? h("span", { testid: "webhook-state-detail" }, ` ${words.detail}`) : null,
      ),
      backlog,
      h("div.row", testBtn, editBtn, replayBtn, listBtn, delBtn),
      result,
    );
  }

  function enabledSwitch(t) {
    const isDefault = t.id === "default";
    const on = t.enabled !== false;
    const input = h("input", { type: "checkbox", role: "switch", checked: on, testid: "webhook-enabled", "aria-label": `Send events to ${targetName(t)}` });
    const text = h("span", on ? "On" : "Off");
    input.addEventListener("change", async () => {
      const want = input.checked;
      input.disabled = true;
      try {
        if (isDefault) await api.put(`/api/instances/${enc(ctx.id)}`, { webhookEnabled: want });
        else await api.put(`/api/instances/${enc(ctx.id)}/webhooks/${enc(t.id)}`, { enabled: want });
        text.textContent = want ? "On" : "Off";
        toast(want ? `${targetName(t)} turned on` : `${targetName(t)} paused: what was waiting is kept as cancelled, and can be sent again`);
        changed();
      } catch (err) {
        input.checked = !want;
        toast(errorText(err), "error");
      } finally {
        input.disabled = false;
      }
    });
    return h("label.switch", input, text);
  }

  async function runTest(t, result) {
    const query = t.id === "default" ? undefined : { webhookId: t.id };
    const res = await api.post(`/api/instances/${enc(ctx.id)}/webhook/test`, {}, { query });
    result.append(testOutcome(res));
    setTimeout(changed, 500);
  }

  async function remove(t, button, result) {
    const ok = await confirmDialog(`Delete the target ${t.url}? Nothing more is sent to it. Its delivery history is kept and stays in the deliveries list.`, "Delete target");
    if (!ok) return;
    await busy(button, result, async () => {
      await api.del(`/api/instances/${enc(ctx.id)}/webhooks/${enc(t.id)}`);
      results.delete(t.id);
      toast(`${targetName(t)} deleted; its delivery history is kept`);
      changed();
    });
  }

  return { node, show };
}

/** The test's outcome in words: what the receiver answered, and how long it took. */
export function testOutcome(res) {
  const code = res?.statusCode ?? null;
  const ms = typeof res?.latencyMs === "number" ? h("span", { testid: "webhook-test-latency" }, `${Math.round(res.latencyMs)} ms`) : null;
  const attrs = { dataset: { statusCode: code === null ? "" : String(code), latencyMs: String(res?.latencyMs ?? "") } };
  const answer = code !== null ? [h("strong", { testid: "webhook-test-code" }, `HTTP ${code}`), ms ? [" in ", ms] : null] : null;
  if (res?.success) {
    return h("p.alert.alert-ok", { testid: "webhook-test-ok", ...attrs }, "Test event delivered: the receiver answered ", answer, ".");
  }
  return h(
    "p.alert.alert-error",
    { testid: "webhook-test-failed", ...attrs },
    answer ? "The test event was not accepted: the receiver answered " : `The test event was not accepted${res?.error ? `: ${res.error}` : ""}. `,
    answer ? [answer, "."] : ms ? ["No answer after ", ms, "."] : "No answer.",
  );
}

/** "Send again everything since [date-time]" for target `t`; shows "N events queued". */
export function replayPanel(ctx, t, { close, done }) {
  const status = h("div", { testid: "webhook-replay-status", "aria-live": "polite", dataset: { errorTestid: "webhook-replay-error" } });
  const hourAgo = new Date(Date.now() - 3600_000);
  const local = new Date(hourAgo.getTime() - hourAgo.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  const input = h("input", { type: "datetime-local", id: "webhook-replay-since", value: local, required: true, testid: "webhook-replay-since" });
  const send = h("button.btn.btn-primary", { type: "submit", testid: "webhook-replay-submit" }, "Send again");
  const cancel = h("button.btn", { type: "button", testid: "webhook-replay-cancel" }, "Close");
  cancel.addEventListener("click", close);
  const form = h(
    "form.webhook-replay",
    { testid: "webhook-replay-form", dataset: { webhookId: t.id } },
    h("h2", "Send events again"),
    h("p.small", "To ", h("code", t.url), ". Each event keeps its original id (X-Webhook-Id), so a receiver that already has it can drop the copy."),
    h("label", { for: "webhook-replay-since" }, "Send again everything since"),
    h("div.row", input, send, cancel),
    status,
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const since = new Date(input.value);
    if (!input.value || Number.isNaN(since.getTime())) {
      clear(status).append(errorBox("Choose a date and time.", "webhook-replay-error"));
      return;
    }
    busy(send, status, async () => {
      const res = await api.post(`/api/instances/${enc(ctx.id)}/webhooks/${enc(t.id)}/replay`, { since: since.toISOString() });
      const n = res?.queued ?? 0;
      status.append(h("p.alert.alert-ok", { testid: "webhook-replay-result", dataset: { queued: String(n) } }, n === 1 ? "1 event queued" : `${n} events queued`, n ? " — they go out in order." : ": nothing happened after that time."));
      done();
    });
  });
  return form;
}

// Connection: QR code (SVG fetched with the Authorization header, shown via a blob URL, refreshed until
// connected), pairing by code, reconnect and logout, and the instance's settings at a glance.

import { api, enc } from "../api.js";
import { busy, clear, confirmDialog, errorBox, field, fmtDate, h, toast } from "../ui.js";

const QR_POLL_MS = 2500;
const QR_POLL_STREAMING_MS = 20000; // with the stream, a new QR arrives as a qr_received event

export function render(root, ctx) {
  const qrArea = h("div.qr-box", { testid: "qr-area", "aria-live": "polite" });
  const actionsError = h("div", { testid: "connection-errors", dataset: { errorTestid: "connection-error" } });
  const reconnectBtn = h("button.btn", { type: "button", testid: "reconnect-button" }, "Reconnect");
  const logoutBtn = h("button.btn.btn-danger", { type: "button", testid: "logout-instance-button" }, "Log out of WhatsApp");
  const deleteBtn = h("button.btn.btn-danger", { type: "button", testid: "delete-instance" }, "Delete instance");

  const pairPhone = field("Phone number", { type: "tel", inputmode: "tel", placeholder: "79001234567", required: true, testid: "pair-phone", autocomplete: "tel" }, "International format, digits only or with +, spaces, dashes.");
  const pairSubmit = h("button.btn", { type: "submit", testid: "pair-submit" }, "Get pairing code");
  const pairResult = h("div", { testid: "pair-result", "aria-live": "polite", dataset: { errorTestid: "pair-error" } });
  const pairForm = h(
    "form",
    { testid: "pair-form" },
    h("h3", "Link with a pairing code"),
    h("p.muted.small", "Instead of scanning: WhatsApp → Linked devices → Link with phone number, then type the code."),
    pairPhone,
    h("div.row", pairSubmit),
    pairResult,
  );
  const details = h("div", { testid: "instance-details" });

  root.append(
    h(
      "div.grid",
      h("div.card", h("h2", "Connection"), qrArea, actionsError, h("div.row", reconnectBtn, logoutBtn)),
      h("div.card", pairForm),
    ),
    h("div.card", h("div.row.between", h("h2", "Settings"), h("a.btn.btn-small", { href: `#/instances/${enc(ctx.id)}/edit` }, "Edit")), details, h("div.row.end", deleteBtn)),
  );

  reconnectBtn.addEventListener("click", () =>
    busy(reconnectBtn, actionsError, async () => {
      const res = await api.post(`/api/instances/${enc(ctx.id)}/reconnect`);
      toast(res.message || "Reconnecting");
      lastQr = null;
      ctx.refreshStatus();
      pollQr();
    }),
  );
  logoutBtn.addEventListener("click", async () => {
    if (!(await confirmDialog("Log this instance out of WhatsApp? The device is unlinked; a new QR scan is needed afterwards.", "Log out"))) return;
    busy(logoutBtn, actionsError, async () => {
      const res = await api.post(`/api/instances/${enc(ctx.id)}/logout`);
      toast(res.message || "Logged out");
      ctx.refreshStatus();
    });
  });
  deleteBtn.addEventListener("click", async () => {
    if (!(await confirmDialog("Delete this instance? The connection is closed and it disappears from every list.", "Delete"))) return;
    busy(deleteBtn, actionsError, async () => {
      await api.del(`/api/instances/${enc(ctx.id)}`);
      toast("Instance deleted");
      ctx.navigate("/instances");
    });
  });
  pairForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    busy(pairSubmit, pairResult, async () => {
      const res = await api.post(`/api/instances/${enc(ctx.id)}/pair`, { phone: pairPhone.input.value.trim() });
      pairResult.append(
        h("p", "Type this code on the phone:"),
        h("p.pairing-code", { testid: "pairing-code" }, res.pairingCode),
      );
    });
  });

  // --- QR code -----------------------------------------------------------------------------------
  let stopped = false;
  let timer = null;
  let lastQr = null;
  let blobUrl = null;

  function setQrContent(...nodes) {
    clear(qrArea).append(...nodes);
  }

  let inflight = false;
  let again = false;
  async function pollQr() {
    if (inflight) {
      again = true;
      return;
    }
    inflight = true;
    try {
      await pollQrOnce();
    } finally {
      inflight = false;
      if (again && !stopped) {
        again = false;
        pollQr();
      }
    }
  }

  async function pollQrOnce() {
    clearTimeout(timer);
    if (stopped) return;
    let delay = ctx.live.every(QR_POLL_MS, QR_POLL_STREAMING_MS);
    try {
      const res = await api.get(`/api/instances/${enc(ctx.id)}/qr`, { withStatus: true });
      if (stopped) return;
      if (res.status === 202) {
        lastQr = null;
        setQrContent(h("p.muted", { testid: "qr-waiting" }, res.body?.message || "QR code generation in progress."));
      } else if (res.body?.qrCode && res.body.qrCode !== lastQr) {
        const img = await api.get(`/api/instances/${enc(ctx.id)}/qr`, { query: { format: "svg" }, as: "blob" });
        if (stopped) return;
        const url = URL.createObjectURL(img.blob);
        if (blobUrl) URL.revokeObjectURL(blobUrl);
        blobUrl = url;
        lastQr = res.body.qrCode;
        setQrContent(
          h("img", { src: url, alt: "WhatsApp QR code: scan it with WhatsApp → Linked devices → Link a device", testid: "qr-image", width: 280, height: 280, dataset: { attempt: res.body.attempt ?? "" } }),
          h("p.small.muted", "Scan with WhatsApp on your phone: Settings → Linked devices → Link a device."),
          res.body.attempt ? h("p.small.muted", { testid: "qr-attempt" }, `QR code #${res.body.attempt}, refreshed automatically`) : null,
        );
      }
    } catch (err) {
      if (stopped) return;
      lastQr = null;
      if (err.status === 409 && (err.body?.status === "connected" || err.code === "already_connected")) {
        showConnected();
        return; // no more polling while connected; a status change restarts it
      }
      setQrContent(errorBox(err, "qr-error"));
      delay = Math.max(delay, QR_POLL_MS * 2);
    }
    clearTimeout(timer);
    timer = setTimeout(pollQr, delay);
  }

  function showConnected() {
    clearTimeout(timer);
    if (blobUrl) URL.revokeObjectURL(blobUrl);
    blobUrl = null;
    lastQr = null;
    const inst = ctx.instance || {};
    setQrContent(
      h("p.alert.alert-ok", { testid: "connected-message" }, "Connected to WhatsApp"),
      inst.phone ? h("p", { testid: "connected-phone" }, `+${inst.phone}${inst.pushName ? ` (${inst.pushName})` : ""}`) : null,
    );
  }

  function onStatus(status) {
    logoutBtn.disabled = status === "logged_out";
    if (status === "connected") showConnected();
    else if (!timer || lastQr === null) pollQr();
  }

  const offStatus = ctx.onStatus(onStatus);
  const offLive = ctx.live.on((events) => {
    if (events.some((e) => e.type === "qr_received")) pollQr();
  });

  ctx.ready
    .then((inst) => {
      if (stopped) return;
      renderDetails(details, inst);
      if (inst.status === "connected") showConnected();
      else pollQr();
    })
    .catch(() => {});

  return () => {
    stopped = true;
    clearTimeout(timer);
    offStatus();
    offLive();
    if (blobUrl) URL.revokeObjectURL(blobUrl);
  };
}

function renderDetails(el, inst) {
  const ws = inst.webhookSettings || {};
  const notify = ["notifyReceived", "notifySent", "notifyDelivery", "notifyRead"]
    .filter((k) => ws[k])
    .map((k) => k.replace("notify", "").toLowerCase());
  const limits = inst.limits
    ? [
        inst.limits.maxMessagesSent != null ? `${inst.limits.maxMessagesSent} messages` : null,
        inst.limits.maxApiCalls != null ? `${inst.limits.maxApiCalls} API calls` : null,
      ]
        .filter(Boolean)
        .join(", ") + ` per ${inst.limits.period || "day"}`
    : "none";
  const account = inst.settings || {};
  const calls = account.rejectCalls ? `rejected${account.rejectCallMessage ? `, then answered: “${account.rejectCallMessage}”` : ""}` : "ring on the phone";
  const rows = [
    ["ID", h("code", { testid: "instance-id" }, inst.id)],
    ["Webhook", inst.webhookUrl ? `${inst.webhookUrl} (${inst.webhookEnabled ? "enabled" : "disabled"})` : "none"],
    ["Notify on", notify.length ? notify.join(", ") : "nothing"],
    ["Retries", `${ws.maxRetries ?? 3} × every ${ws.retryInterval ?? 60000} ms`],
    ["Signing secret", ws.secret ? "set" : "none"],
    ["Custom headers", Object.keys(ws.headers || {}).join(", ") || "none"],
    ["Limits", limits],
    ["Calls", h("span", { testid: "settings-calls" }, calls)],
    ["Always online", account.alwaysOnline ? "yes" : "no"],
    ["Import history on link", account.syncHistory === false ? "no" : "yes"],
    ["Created", fmtDate(inst.createdAt)],
    ["Last activity", fmtDate(inst.lastActivity)],
  ];
  clear(el).append(h("div.table-wrap", h("table", h("tbody", rows.map(([k, v]) => h("tr", h("th", { scope: "row" }, k), h("td", v)))))));
}

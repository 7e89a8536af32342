// Connection: QR code (SVG fetched with the Authorization header, shown via a blob URL, refreshed until
// connected), pairing by code, reconnect and logout, and the instance's settings at a glance. When no QR code
// can come (no network, logged out, gave up), it says why in words for people, counts down to the next
// attempt and offers to try now.

import { api, enc } from "../api.js";
import { meta } from "../meta.js";
import { busy, clear, confirmDialog, errorBox, field, fmtDate, h, toast } from "../ui.js";

const QR_POLL_MS = 2500;
const QR_POLL_STREAMING_MS = 20000; // with the stream, a new QR arrives as a qr_received event
// What a reconnect led to (its answer's `status`), in words.
const RECONNECT_WORDS = {
  qr: ["Waiting for a QR scan", "ok"],
  connected: ["Connected to WhatsApp", "ok"],
  connecting: ["Connecting to WhatsApp…", "ok"],
  disconnected: ["Could not connect to WhatsApp", "error"],
  failed: ["The connection failed", "error"],
  logged_out: ["Logged out of WhatsApp", "error"],
};

export function render(root, ctx) {
  const qrArea = h("div.qr-box", { testid: "qr-area", "aria-live": "polite" });
  const actionsError = h("div", { testid: "connection-errors", dataset: { errorTestid: "connection-error" } });
  const reconnectBtn = h("button.btn", { type: "button", testid: "reconnect-button" }, "Reconnect");
  const logoutBtn = h("button.btn.btn-danger", { type: "button", testid: "logout-instance-button" }, "Log out of WhatsApp");
  const deleteBtn = h("button.btn.btn-danger", { type: "button", testid: "delete-instance" }, "Delete instance");

  const pairPhone = field("Phone number", { type: "tel", inputmode: "tel", placeholder: "79001234567", required: true, testid: "pair-phone", autocomplete: "tel" }, "International format, digits only or with +, spaces, dashes.");
  const pairSubmit = h("button.btn", { type: "submit", testid: "pair-submit" }, "Get pairing code");
  const pairResult = h("div", { testid: "pair-result", "aria-live": "polite", dataset: { errorTestid: "pair-error" } });
  const pairNote = h("p.alert.alert-warn.small", { testid: "pair-problem", hidden: true });
  const pairForm = h(
    "form",
    { testid: "pair-form" },
    h("h3", "Link with a pairing code"),
    h("p.muted.small", "Instead of scanning: WhatsApp → Linked devices → Link with phone number, then type the code."),
    pairNote,
    pairPhone,
    h("div.row", pairSubmit),
    pairResult,
  );
  const details = h("div", { testid: "instance-details" });
  // Pairing links a phone: once connected there is nothing to pair.
  const pairCard = h("div.card", { testid: "pair-card" }, pairForm);
  logoutBtn.disabled = true; // until the status says a device is linked

  root.append(
    h(
      "div.grid",
      h("div.card", h("h2", "Connection"), qrArea, actionsError, h("div.row", reconnectBtn, logoutBtn)),
      pairCard,
    ),
    h("div.card", h("div.row.between", h("h2", "Settings"), h("a.btn.btn-small", { href: `#/instances/${enc(ctx.id)}/edit` }, "Edit")), details, h("div.row.end", deleteBtn)),
  );

  function reconnectNow(button) {
    return busy(button, actionsError, async () => {
      const res = await api.post(`/api/instances/${enc(ctx.id)}/reconnect`);
      const [words, kind] = RECONNECT_WORDS[res.status] || ["Reconnecting to WhatsApp…", "ok"];
      toast(words, kind);
      lastQr = null;
      ctx.refreshStatus();
      pollQr();
    });
  }
  reconnectBtn.addEventListener("click", () => reconnectNow(reconnectBtn));
  logoutBtn.addEventListener("click", async () => {
    if (!(await confirmDialog("Log this instance out of WhatsApp? The device is unlinked; a new QR scan is needed afterwards.", "Log out"))) return;
    busy(logoutBtn, actionsError, async () => {
      await api.post(`/api/instances/${enc(ctx.id)}/logout`);
      toast("Logged out of WhatsApp: the device is unlinked");
      linked = false;
      ctx.refreshStatus();
    });
  });
  deleteBtn.addEventListener("click", async () => {
    if (!(await confirmDialog("Delete this instance? The connection is closed and it disappears from every list.", "Delete"))) return;
    busy(deleteBtn, actionsError, async () => {
      await api.del(`/api/instances/${enc(ctx.id)}`);
      toast("Instance deleted", "ok", { keep: true });
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

  let countdown = null;
  function setQrContent(...nodes) {
    clearInterval(countdown);
    countdown = null;
    // Native append() would write a left-out part (null) as the text "null".
    clear(qrArea).append(...nodes.filter((n) => n !== null && n !== undefined && n !== false));
  }

  // Log out unlinks a device: nothing to unlink while a QR code waits for a scan or before the first link.
  let linked = ctx.instance?.linked ?? Boolean(ctx.instance?.phone);
  function showState(status) {
    if (status === "connected") linked = true;
    else if (status === "qr" || status === "logged_out") linked = false;
    logoutBtn.disabled = !status || !linked;
    logoutBtn.title = logoutBtn.disabled ? "No phone is linked to this instance" : "";
    pairCard.hidden = status === "connected";
  }

  function notePairing(text) {
    pairNote.textContent = text || "";
    pairNote.hidden = !text;
  }

  // Why no QR code can come now (the 409 `qr_unavailable` details), in words, with what to do about it.
  function showProblem(d) {
    const cause = sentence(d.lastError);
    const retryAt = d.retryingAt ? Date.parse(d.retryingAt) : null;
    if (d.reason === "linked") linked = true;
    else if (d.reason === "qr_timeout") linked = false;
    showState(ctx.status || d.status);
    const text = h("p", { testid: "problem-text" });
    const more = h("p.small", { testid: "problem-more" });
    let button = null;
    if (d.status === "logged_out") {
      text.textContent = "This instance is logged out of WhatsApp. Link it again with a new QR code.";
      button = ["Get a QR code", "get-qr"];
    } else if (d.reason === "linked") {
      text.textContent = "Connecting to WhatsApp with the linked phone…";
      if (cause) more.textContent = `Last problem: ${cause}`;
    } else if (d.status === "failed") {
      text.textContent = cause || "The connection stopped after repeated errors.";
      more.textContent = d.attempts ? `It stopped trying after ${attempts(d.attempts)}.` : "It does not retry by itself.";
      button = ["Try now", "retry-now"];
    } else if (d.reason === "qr_timeout") {
      text.textContent = "No QR code was scanned in time.";
      button = ["Get a new QR code", "get-qr"];
    } else {
      text.textContent = cause || "Not connected to WhatsApp.";
      if (retryAt === null) more.textContent = "It does not retry by itself.";
      else if (d.attempts) more.textContent = `${attempts(d.attempts)} so far.`;
      button = ["Try now", "retry-now"];
    }
    const nodes = [text];
    if (retryAt !== null) {
      const when = h("span", { testid: "retry-countdown" });
      text.append(" ", when);
      const tick = () => {
        const left = Math.ceil((retryAt - Date.now()) / 1000);
        when.textContent = left > 0 ? `Retrying in ${left} s.` : "Retrying now…";
        if (left <= 0 && countdown !== null) {
          clearInterval(countdown);
          countdown = null;
          clearTimeout(timer);
          timer = setTimeout(pollQr, 600); // see how that attempt went
        }
      };
      setQrContent();
      tick();
      countdown = setInterval(tick, 1000);
    } else {
      setQrContent();
    }
    if (more.textContent) nodes.push(more);
    if (button) {
      const btn = h("button.btn", { type: "button", testid: button[1] }, button[0]);
      btn.addEventListener("click", () => reconnectNow(btn));
      nodes.push(h("div.row", btn));
    }
    qrArea.append(h("div.alert.alert-warn.connection-problem", { role: "status", testid: "connection-problem", dataset: { status: d.status, reason: d.reason } }, ...nodes));
    notePairing(d.reason === "linked" ? "" : `Pairing by code needs a connection to WhatsApp. ${cause || text.textContent}`);
    return retryAt;
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
      notePairing("");
      if (res.status === 202) {
        lastQr = null;
        setQrContent(h("p.muted", { testid: "qr-waiting" }, "Preparing a QR code…"));
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
      if (err.status === 409 && err.code === "qr_unavailable" && err.details) {
        const retryAt = showProblem(err.details);
        // Ask again once the next attempt has started (the countdown does); otherwise now and then.
        delay = retryAt === null ? Math.max(delay, QR_POLL_MS * 2) : Math.max(delay, retryAt - Date.now() + 600);
      } else {
        setQrContent(errorBox(err, "qr-error"));
        delay = Math.max(delay, QR_POLL_MS * 2);
      }
    }
    clearTimeout(timer);
    timer = setTimeout(pollQr, delay);
  }

  function showConnected() {
    clearTimeout(timer);
    if (blobUrl) URL.revokeObjectURL(blobUrl);
    blobUrl = null;
    lastQr = null;
    notePairing("");
    const inst = ctx.instance || {};
    setQrContent(
      h("p.alert.alert-ok", { testid: "connected-message" }, "Connected to WhatsApp"),
      inst.phone ? h("p", { testid: "connected-phone" }, `+${inst.phone}${inst.pushName ? ` (${inst.pushName})` : ""}`) : null,
    );
  }

  function onStatus(status) {
    showState(status);
    if (status === "connected") showConnected();
    else if (!timer || lastQr === null) pollQr();
  }

  const offStatus = ctx.onStatus(onStatus);
  // After a new code, or any change of the connection (`statusEventTypes` of /api/meta), the QR area asks again.
  let qrEvents = ["qr_received"];
  meta()
    .then((m) => (qrEvents = m.statusEventTypes || qrEvents))
    .catch(() => {}); // without the list, a new code still shows
  const offLive = ctx.live.on((events) => {
    // Connected: no QR code can come (a 409); the status change that ends it asks again (onStatus).
    if (ctx.status === "connected") return;
    if (events.some((e) => qrEvents.includes(e.type))) pollQr();
  });

  ctx.ready
    .then((inst) => {
      if (stopped) return;
      renderDetails(details, inst);
      linked = linked || Boolean(inst.phone);
      const status = ctx.status || inst.status;
      showState(status);
      if (status === "connected") showConnected();
      else pollQr();
    })
    .catch(() => {});

  return () => {
    stopped = true;
    clearTimeout(timer);
    clearInterval(countdown);
    offStatus();
    offLive();
    if (blobUrl) URL.revokeObjectURL(blobUrl);
  };
}

/** "cannot reach WhatsApp: connection refused" -> "Cannot reach WhatsApp: connection refused." */
function sentence(text) {
  if (!text) return "";
  const s = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?…]$/.test(s) ? s : `${s}.`;
}

/** "Tries again 3 times, 1 min apart" (the interval is in ms). */
function retries(times, ms) {
  if (!times) return "No retries";
  const s = Math.round(ms / 1000);
  const apart = s >= 60 && s % 60 === 0 ? `${s / 60} min` : `${s} s`;
  return `Tries again ${times === 1 ? "once" : `${times} times`}, ${apart} apart`;
}

function attempts(n) {
  return n === 1 ? "1 failed attempt" : `${n} failed attempts`;
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
    ["Retries", retries(ws.maxRetries ?? 3, ws.retryInterval ?? 60000)],
    ["Signing secret", ws.secret ? "set" : "none"],
    ["Custom headers", Object.keys(ws.headers || {}).join(", ") || "none"],
    ["Limits", limits],
    ["Calls", h("span", { testid: "settings-calls" }, calls)],
    ["Always online", account.alwaysOnline ? "yes" : "no"],
    ["Import history on link", account.syncHistory === false ? "no" : "yes"],
    ["Created", fmtDate(inst.createdAt)],
    ["Last activity", fmtDate(inst.lastActivity)],
    ["Runs on server", h("span", { testid: "settings-node" }, inst.node || "none right now")],
  ];
  clear(el).append(h("div.table-wrap", h("table", h("tbody", rows.map(([k, v]) => h("tr", h("th", { scope: "row" }, k), h("td", v)))))));
}

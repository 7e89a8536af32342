// The simulator panel (admins, when the server runs WHATSAPP_TRANSPORT=simulator): play WhatsApp's side of
// this instance from the browser, so a demo needs no curl: link it as if its QR code were scanned, have
// someone write, type or call, mark what we sent as delivered or read, drop the connection, cut the network,
// push a history sync. Each action is one simulator route (docs/api.md, "Simulator"); its answer is said in
// words, what the server refuses shows its error text.

import { api, enc, session } from "../api.js";
import { meta } from "../meta.js";
import { busy, checkbox, clear, field, fmtNumber, h, jidNumber, statusLabel } from "../ui.js";
import { summary } from "../chat/kinds.js";

const MESSAGE_KINDS = new Set(["text", "image", "video", "audio", "voice", "document", "sticker", "location", "contact", "poll"]);
const TYPING = [
  ["typing", "is typing…"],
  ["recording", "is recording audio…"],
  ["paused", "stopped typing"],
];

let known = null; // {token, answer: Promise<boolean>}: the transport is the server's, the same for every instance

/** Whether to offer the panel: an admin, and a server that runs the simulator. */
export function available(instanceId) {
  if (!session.isAdmin) return Promise.resolve(false);
  if (known && known.token === session.token) return known.answer;
  const answer = (async () => {
    const m = await meta().catch(() => ({}));
    return m.transport === "simulator"; // `/api/meta` names the server's transport
  })();
  known = { token: session.token, answer };
  return answer;
}

export function render(root, ctx) {
  const sim = `/api/simulator/instances/${enc(ctx.id)}`;
  const intro = h("p.muted", "You play WhatsApp here: what you do below reaches this instance as if it came from the network and from the people in it.");
  const gate = h("div", { testid: "sim-gate" });
  const panel = h("div", { testid: "sim-panel", hidden: true });
  root.append(h("div.card", h("h2", "Simulator"), intro, gate), panel);
  let stopped = false;

  available(ctx.id).then((yes) => {
    if (stopped) return;
    if (!yes) {
      gate.append(h("p.alert.alert-info", { testid: "sim-unavailable" }, session.isAdmin ? "This server talks to the real WhatsApp: there is no simulator to drive." : "The simulator is for administrators."));
      return;
    }
    panel.hidden = false;
  });

  /** A card with a form; `act(result)` does the work and returns the words to show. */
  function section(key, title, hint, controls, button, act) {
    const result = h("div.sim-result", { testid: `sim-result-${key}`, "aria-live": "polite", dataset: { errorTestid: "sim-error" } });
    const submit = h("button.btn.btn-primary", { type: "submit", testid: `sim-${key}` }, button);
    const form = h("form.card.sim-card", { testid: `sim-card-${key}` }, h("h3", title), hint ? h("p.small.muted", hint) : null, ...controls, h("div.row", submit), result);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      run(ev.submitter || submit, result, act);
    });
    return { form, result, submit };
  }

  function run(button, result, act) {
    return busy(button, result, async () => {
      const words = await act(button);
      if (!stopped && words) result.append(h("p.alert.alert-ok", { testid: "sim-ok" }, words));
    });
  }

  // --- who is on the other side ---------------------------------------------------------------------
  const peer = field("Phone number", { type: "tel", inputmode: "tel", value: "79005550001", required: true, testid: "sim-peer-phone" }, "The person who writes, types or calls.");
  const peerName = field("Their name", { type: "text", value: "Alex", maxlength: 100, testid: "sim-peer-name" });
  const who = () => peer.input.value.trim();
  const whoLabel = () => `${peerName.input.value.trim() || "Someone"} (+${jidNumber(who()).replace(/\D/g, "")})`;
  const chatLink = () => h("a", { href: `#/instances/${enc(ctx.id)}/chats/${enc(who())}`, testid: "sim-open-chat" }, "open the chat");

  // --- linking and the connection -----------------------------------------------------------------------
  const scanPhone = field("Our phone number", { type: "tel", inputmode: "tel", value: "79001112233", testid: "sim-scan-phone" }, "The account this instance becomes once linked.");
  const scanName = field("Our name", { type: "text", value: "Demo", maxlength: 100, testid: "sim-scan-name" });
  const link = section("scan", "Scan the QR code", "Links the instance, as a phone scanning its QR code would.", [h("div.form-grid", scanPhone, scanName)], "Scan", async () => {
    const body = { phone: scanPhone.input.value.trim() || undefined, pushName: scanName.input.value.trim() || undefined };
    const res = await api.post(`${sim}/scan`, body);
    ctx.refreshStatus();
    return res.status === "connected" ? "Linked: the instance is connected to WhatsApp." : `The instance is now ${statusLabel(res.status)}.`;
  });
  const drop = h("button.btn", { type: "button", testid: "sim-drop" }, "Drop the connection");
  const unlink = h("button.btn.btn-danger", { type: "button", testid: "sim-unlink" }, "Unlink on the phone");
  const connectionResult = h("div.sim-result", { testid: "sim-result-connection", "aria-live": "polite", dataset: { errorTestid: "sim-error" } });
  drop.addEventListener("click", () =>
    run(drop, connectionResult, async () => {
      await api.post(`${sim}/disconnect`, {});
      ctx.refreshStatus();
      return "The connection dropped: the instance reconnects by itself.";
    }),
  );
  unlink.addEventListener("click", () =>
    run(unlink, connectionResult, async () => {
      await api.post(`${sim}/disconnect`, { loggedOut: true });
      ctx.refreshStatus();
      return "The device was unlinked on the phone: the instance is logged out.";
    }),
  );
  link.form.append(h("div.sim-more", h("p.small.muted", "Or end the connection from WhatsApp's side:"), h("div.row", drop, unlink), connectionResult));

  // --- the network ----------------------------------------------------------------------------------
  const networkState = h("strong", { testid: "sim-network-state", dataset: { reachable: "unknown" } }, "reachable, unless it was cut off before");
  const offBtn = h("button.btn", { type: "button", testid: "sim-network-off" }, "Make it unreachable");
  const onBtn = h("button.btn", { type: "button", testid: "sim-network-on" }, "Make it reachable");
  const networkResult = h("div.sim-result", { testid: "sim-result-network", "aria-live": "polite", dataset: { errorTestid: "sim-error" } });
  function setNetwork(button, reachable) {
    return run(button, networkResult, async () => {
      const res = await api.post(`${sim}/network`, { reachable });
      networkState.textContent = res.reachable ? "reachable" : "unreachable";
      networkState.dataset.reachable = String(res.reachable);
      ctx.refreshStatus();
      return res.reachable ? "WhatsApp is reachable again: the next attempt connects." : "WhatsApp cannot be reached: every connect is refused, and the instance keeps retrying.";
    });
  }
  offBtn.addEventListener("click", () => setNetwork(offBtn, false));
  onBtn.addEventListener("click", () => setNetwork(onBtn, true));
  const network = h(
    "div.card.sim-card",
    { testid: "sim-card-network" },
    h("h3", "The network"),
    h("p.small.muted", "Cut this instance off from WhatsApp to see how it copes (it says why and retries)."),
    h("p", "WhatsApp is ", networkState, "."),
    h("div.row", offBtn, onBtn),
    networkResult,
  );

  // --- someone writes ---------------------------------------------------------------------------------
  const text = field("Message", { tag: "textarea", rows: 2, required: true, testid: "sim-incoming-text", placeholder: "Hi! Are you there?" });
  const incoming = section("incoming", "A message arrives", null, [text], "Deliver the message", async () => {
    const res = await api.post(`${sim}/incoming`, { from: who(), body: text.input.value, pushName: peerName.input.value.trim() || undefined });
    text.input.value = "";
    incoming.result.append(h("p.alert.alert-ok", { testid: "sim-ok", dataset: { messageId: res.messageId } }, `${whoLabel()} wrote to you: `, chatLink(), "."));
    return "";
  });

  // --- receipts for what we sent -------------------------------------------------------------------------
  const lastSent = h("p", { testid: "sim-last-sent" }, "Looking for the last message sent…");
  let last = null;
  async function findLastSent() {
    try {
      const res = await api.get(`${sim}/outbox`);
      if (stopped) return;
      const messages = (res.messages || []).filter((m) => m.to && MESSAGE_KINDS.has(m.type));
      last = messages[messages.length - 1] || null;
      clear(lastSent);
      if (!last) lastSent.append("Nothing was sent from this instance yet: send a message, then come back.");
      else {
        lastSent.dataset.messageId = last.id;
        lastSent.append("Last sent: ", h("strong", summary({ ...last, content: last.body ?? last.caption, hasMedia: Boolean(last.size) }) || last.type), ` to +${jidNumber(last.to)}`);
      }
      delivered.disabled = read.disabled = !last;
    } catch (err) {
      if (!stopped) lastSent.textContent = `Cannot read what was sent: ${err.message}`;
    }
  }
  const delivered = h("button.btn", { type: "submit", testid: "sim-receipt-delivered", value: "delivered", disabled: true }, "✓✓ Delivered");
  const read = h("button.btn", { type: "submit", testid: "sim-receipt-read", value: "read", disabled: true }, "Read");
  const again = h("button.btn.btn-small.btn-ghost", { type: "button", testid: "sim-last-sent-refresh" }, "Look again");
  again.addEventListener("click", findLastSent);
  const receiptResult = h("div.sim-result", { testid: "sim-result-receipt", "aria-live": "polite", dataset: { errorTestid: "sim-error" } });
  const receipts = h("form.card.sim-card", { testid: "sim-card-receipt" }, h("h3", "Receipts"), h("p.small.muted", "The other side got, then read, what this instance sent last."), lastSent, h("div.row", delivered, read, again), receiptResult);
  receipts.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const button = ev.submitter || delivered;
    run(button, receiptResult, async () => {
      if (!last) throw new Error("nothing was sent yet");
      await api.post(`${sim}/receipt`, { messageId: last.id, status: button.value });
      return button.value === "read" ? "They read it: the ticks turn blue." : "It reached their phone: two ticks.";
    });
  });

  // --- typing, calls --------------------------------------------------------------------------------------
  const state = field("They", { tag: "select", testid: "sim-typing-state", options: TYPING });
  const typing = section("typing", "Typing", "Shows under the chat's title for a few seconds.", [state], "Show it", async () => {
    await api.post(`${sim}/presence`, { from: who(), state: state.input.value });
    return `${whoLabel()} ${TYPING.find(([v]) => v === state.input.value)[1]}`;
  });
  const video = checkbox("Video call", { testid: "sim-call-video" });
  const call = section("call", "A call", "Rings on this instance (rejected at once if its settings say so); it shows in Activity.", [video], "Call", async () => {
    await api.post(`${sim}/call`, { from: who(), isVideo: video.input.checked });
    return `${whoLabel()} called${video.input.checked ? " (video)" : ""}.`;
  });

  // --- history sync ---------------------------------------------------------------------------------------
  const chats = field("Chats", { type: "number", min: 1, max: 1000, value: 3, required: true, testid: "sim-history-chats" });
  const perChat = field("Messages per chat", { type: "number", min: 1, max: 1000, value: 20, required: true, testid: "sim-history-per-chat" });
  const history = section("history", "History sync", "WhatsApp sends the phone's past chats, as it does after a link (media are not downloaded).", [h("div.form-grid", chats, perChat)], "Push the history", async () => {
    const res = await api.post(`${sim}/history`, { chats: Number(chats.input.value), messagesPerChat: Number(perChat.input.value) });
    return `History imported: ${fmtNumber(res.messages)} messages in ${fmtNumber(res.chats)} chats (see Chats).`;
  });

  panel.append(
    h("div.card.sim-card", { testid: "sim-card-peer" }, h("h3", "The other person"), h("div.form-grid", peer, peerName)),
    h("div.grid.sim-grid", incoming.form, receipts, typing.form, call.form),
    h("div.grid.sim-grid", link.form, network, history.form),
  );
  findLastSent();
  // What we send while the panel is open becomes the one the receipts are for.
  const off = ctx.live.on((events) => {
    if (events.some((e) => e.type === "message_sent")) findLastSent();
  });
  return () => {
    stopped = true;
    off();
  };
}

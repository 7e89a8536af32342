// The composer of a chat: a text message (as a reply when a message was picked, or an edit of your own),
// and, from its toolbar, a file (sent as it is, as a file, a voice note or a sticker), a location or a poll.
// Every failure shows the server's `error` text above the toolbar.

import { api, enc } from "../api.js";
import { meta } from "../meta.js";
import { busy, checkbox, clear, field, h } from "../ui.js";
import { attachPanel } from "./attach.js";
import { authorOf, summary } from "./kinds.js";

const POLL_MIN = 2;
const POLL_MAX = 12;
// How a file goes out (`as` of send-file and send-media), in words for people.
export const SEND_AS = [
  ["auto", "As it is (photo, video, audio or file, by its type)"],
  ["document", "File"],
  ["voice", "Voice note"],
  ["sticker", "Sticker"],
];

/**
 * opts: instanceId, chatId, sent() (after anything was sent: reload the chat), presence ({typed, pause}).
 * Returns {node, reply(m), edit(m), run(button, fn)}.
 */
export function createComposer({ instanceId, chatId, sent, presence }) {
  const base = `/api/whatsapp/${enc(instanceId)}`;
  let replyTo = null;
  let editing = null;

  const errors = h("div", { testid: "composer-errors", dataset: { errorTestid: "composer-error" } });
  const context = h("div.composer-context", { "aria-live": "polite" });
  const input = h("textarea", { id: "composer-text", rows: 2, required: true, testid: "composer-input", placeholder: "Type a message" });
  const sendBtn = h("button.btn.btn-primary", { type: "submit", testid: "composer-send" }, "Send");
  const run = (button, fn) => busy(button, errors, fn);

  // --- reply and edit ------------------------------------------------------------------------------
  function showContext() {
    clear(context);
    sendBtn.textContent = editing ? "Save" : "Send";
    const target = editing || replyTo;
    if (!target) return;
    const cancel = h(
      "button.btn.btn-small.btn-ghost",
      { type: "button", testid: editing ? "edit-cancel" : "reply-cancel", "aria-label": editing ? "Cancel editing" : "Cancel reply" },
      "✕",
    );
    cancel.addEventListener("click", () => {
      if (editing) input.value = "";
      replyTo = editing = null;
      showContext();
      input.focus();
    });
    context.append(
      h(
        "div.context-bar",
        { testid: editing ? "edit-bar" : "reply-bar", dataset: { messageId: target.messageId } },
        h(
          "div.context-text",
          h("strong.small", editing ? "Editing your message" : `Replying to ${authorOf(target)}`),
          h("div.small.muted.snippet", summary(target)),
        ),
        cancel,
      ),
    );
  }

  function reply(m) {
    editing = null;
    replyTo = m;
    showContext();
    input.focus();
  }

  function edit(m) {
    replyTo = null;
    editing = m;
    input.value = m.content ?? m.body ?? "";
    showContext();
    input.focus();
  }

  /** The reply target of what is sent now (cleared once sent). */
  function quoted(body) {
    if (replyTo) body.quotedMessageId = replyTo.messageId;
    return body;
  }

  async function done() {
    replyTo = editing = null;
    showContext();
    await sent();
  }

  // --- text ----------------------------------------------------------------------------------------
  const textForm = h(
    "form",
    { testid: "composer" },
    context,
    h("label", { for: "composer-text" }, "Message"),
    input,
  );
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) textForm.requestSubmit();
    if (ev.key === "Escape" && (replyTo || editing)) context.querySelector("button")?.click();
  });
  input.addEventListener("input", () => {
    if (!editing && input.value.trim()) presence.typed();
  });
  textForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    run(sendBtn, async () => {
      if (editing) {
        await api.put(`${base}/messages/${enc(editing.messageId)}`, { message: input.value });
      } else {
        await api.post(`${base}/send`, quoted({ phone: chatId, message: input.value }));
        presence.pause();
      }
      input.value = "";
      await done();
    });
  });

  // --- the toolbar's panels ------------------------------------------------------------------------
  const panels = [];
  function panel(key, label, form) {
    const toggle = h("button.btn.btn-small", { type: "button", testid: `composer-${key}`, "aria-expanded": "false" }, label);
    form.hidden = true;
    toggle.addEventListener("click", () => {
      const opening = form.hidden;
      for (const p of panels) {
        p.form.hidden = true;
        p.toggle.setAttribute("aria-expanded", "false");
      }
      form.hidden = !opening;
      toggle.setAttribute("aria-expanded", String(opening));
      if (opening) form.querySelector("input, select, textarea")?.focus();
    });
    const cancel = h("button.btn.btn-small.btn-ghost", { type: "button", testid: `${key}-cancel` }, "Cancel");
    cancel.addEventListener("click", () => toggle.click());
    form.querySelector(".row.end")?.prepend(cancel);
    panels.push({ toggle, form });
    return toggle;
  }

  // A file: photo, video, audio or any file, with a preview and a caption (./attach.js)
  const attachForm = attachPanel({ base, chatId, run, replyTo: () => replyTo, done });

  // A location
  const lat = field("Latitude", { type: "number", step: "any", min: -90, max: 90, required: true, testid: "location-latitude", placeholder: "52.52" });
  const lon = field("Longitude", { type: "number", step: "any", min: -180, max: 180, required: true, testid: "location-longitude", placeholder: "13.405" });
  const place = field("Name", { type: "text", testid: "location-name", placeholder: "Optional, e.g. Main station" });
  const address = field("Address", { type: "text", testid: "location-address", placeholder: "Optional" });
  const locationBtn = h("button.btn.btn-primary", { type: "submit", testid: "location-send" }, "Send location");
  const locationForm = h(
    "form.composer-panel",
    { testid: "location-form", "aria-label": "Send a location" },
    h("div.form-grid", lat, lon, place, address),
    h("div.row.end", locationBtn),
  );
  locationForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    run(locationBtn, async () => {
      const body = { phone: chatId, latitude: Number(lat.input.value), longitude: Number(lon.input.value) };
      if (place.input.value.trim()) body.name = place.input.value.trim();
      if (address.input.value.trim()) body.address = address.input.value.trim();
      await api.post(`${base}/send-location`, quoted(body));
      locationForm.reset();
      locationForm.hidden = true;
      await done();
    });
  });

  // A poll
  const question = field("Question", { type: "text", required: true, testid: "poll-question-input", maxlength: 255 });
  const optionList = h("ol.poll-inputs", { testid: "poll-options" });
  const addOption = h("button.btn.btn-small", { type: "button", testid: "poll-add-option" }, "Add an option");
  const several = checkbox("People may choose more than one answer", { testid: "poll-several" });
  const pollBtn = h("button.btn.btn-primary", { type: "submit", testid: "poll-send" }, "Send poll");
  function renumber() {
    const rows = [...optionList.children];
    rows.forEach((row, i) => {
      row.input.setAttribute("aria-label", `Option ${i + 1}`);
      row.input.placeholder = `Option ${i + 1}`;
      row.removeButton.disabled = rows.length <= POLL_MIN;
    });
    addOption.disabled = rows.length >= POLL_MAX;
  }
  function optionRow(value = "") {
    const control = h("input", { type: "text", required: true, maxlength: 100, testid: "poll-option-input", value });
    const remove = h("button.btn.btn-small.btn-ghost", { type: "button", testid: "poll-remove-option", "aria-label": "Remove this option" }, "✕");
    const row = h("li.row", control, remove);
    row.input = control;
    row.removeButton = remove;
    remove.addEventListener("click", () => {
      row.remove();
      renumber();
    });
    return row;
  }
  function resetOptions() {
    clear(optionList);
    for (let i = 0; i < POLL_MIN; i += 1) optionList.append(optionRow());
    renumber();
  }
  addOption.addEventListener("click", () => {
    if (optionList.children.length >= POLL_MAX) return;
    const row = optionRow();
    optionList.append(row);
    renumber();
    row.input.focus();
  });
  resetOptions();
  const pollForm = h(
    "form.composer-panel",
    { testid: "poll-form", "aria-label": "Send a poll" },
    question,
    h("fieldset", h("legend", `Options (${POLL_MIN} to ${POLL_MAX})`), optionList, addOption),
    several,
    h("div.row.end", pollBtn),
  );
  pollForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    run(pollBtn, async () => {
      const options = [...optionList.children].map((row) => row.input.value.trim());
      const body = { phone: chatId, question: question.input.value.trim(), options };
      body.selectableCount = several.input.checked ? options.length : 1;
      await api.post(`${base}/send-poll`, quoted(body));
      pollForm.reset();
      resetOptions();
      pollForm.hidden = true;
      await done();
    });
  });

  const toolbar = h(
    "div.row.composer-toolbar",
    panel("attach", "📎 Attach", attachForm),
    panel("location", "📍 Location", locationForm),
    panel("poll", "📊 Poll", pollForm),
    h("span.spacer"),
    sendBtn,
  );
  // The Send button sits in the toolbar, outside the text form: it submits that form.
  sendBtn.setAttribute("form", "composer-form");
  textForm.id = "composer-form";

  meta()
    .then(({ limits }) => {
      input.maxLength = limits.maxTextLength;
    })
    .catch(() => {});

  const node = h("div.composer", textForm, errors, toolbar, attachForm, locationForm, pollForm);
  return { node, reply, edit, run, errors };
}

// The composer's "File" panel: pick a photo, video, audio or any file, see it (a preview, its name and size),
// choose how it goes (as it is, as a file, as a voice note, as a sticker), add a caption, send it through
// `send-file` (multipart). The server decides the kind from the bytes; the choices offered follow the file's
// type as the browser sees it (a voice note from audio or video, a sticker from a picture).

import { api } from "../api.js";
import { meta } from "../meta.js";
import { clear, field, fmtBytes, h } from "../ui.js";

const KIND_WORDS = { image: "Photo", video: "Video", audio: "Audio", document: "File" };

/** image | video | audio | document, from the file's MIME type as the browser reports it. */
export function fileKind(file) {
  const type = (file?.type || "").split("/")[0];
  return type === "image" || type === "video" || type === "audio" ? type : "document";
}

/** The `as` choices for a file of `kind`: [value, label], the first being the default. */
export function sendAsChoices(kind) {
  const choices = [["auto", `As it is (${KIND_WORDS[kind].toLowerCase()})`]];
  if (kind !== "document") choices.push(["document", "As a file (no preview, the original quality)"]);
  if (kind === "audio" || kind === "video") choices.push(["voice", "As a voice note"]);
  if (kind === "image") choices.push(["sticker", "As a sticker"]);
  return choices;
}

/**
 * opts: base (`/api/whatsapp/{id}`), chatId, run(button, fn), replyTo() → the message replied to (or null),
 * done() after sending. Returns the panel's form (a `.row.end` holds its buttons).
 */
export function attachPanel({ base, chatId, run, replyTo, done }) {
  const file = field("Photo, video, audio or file", { type: "file", required: true, testid: "attach-file" });
  const preview = h("div.attach-preview", { testid: "attach-preview", "aria-live": "polite", hidden: true });
  const sendAs = field("Send", { tag: "select", testid: "attach-as", options: sendAsChoices("document") });
  const caption = field("Caption", { type: "text", testid: "attach-caption" }, "Shown under the photo, video or file.");
  const attachBtn = h("button.btn.btn-primary", { type: "submit", testid: "attach-send" }, "Send file");
  const form = h("form.composer-panel", { testid: "attach-form", "aria-label": "Send a file" }, file, preview, sendAs, caption, h("div.row.end", attachBtn));
  let url = null;
  let limit = null;

  function forget() {
    if (url) URL.revokeObjectURL(url);
    url = null;
    clear(preview);
    preview.hidden = true;
  }

  function captionFits() {
    // WhatsApp shows no caption with a voice note or a sticker.
    const none = sendAs.input.value === "voice" || sendAs.input.value === "sticker";
    caption.input.disabled = none;
    caption.querySelector(".hint").textContent = none ? "Voice notes and stickers go without a caption." : "Shown under the photo, video or file.";
  }

  function setChoices(kind) {
    const keep = sendAs.input.value;
    clear(sendAs.input);
    for (const [value, label] of sendAsChoices(kind)) sendAs.input.append(h("option", { value }, label));
    if ([...sendAs.input.options].some((o) => o.value === keep)) sendAs.input.value = keep;
    captionFits();
    attachBtn.textContent = { image: "Send photo", video: "Send video", audio: "Send audio", document: "Send file" }[kind];
  }

  function show(chosen) {
    forget();
    if (!chosen) {
      setChoices("document");
      return;
    }
    const kind = fileKind(chosen);
    url = URL.createObjectURL(chosen);
    let media = null;
    if (kind === "image") media = h("img", { src: url, alt: `Preview of ${chosen.name}`, testid: "attach-preview-image" });
    else if (kind === "video") media = h("video", { src: url, controls: true, muted: true, preload: "metadata", testid: "attach-preview-video" });
    else if (kind === "audio") media = h("audio", { src: url, controls: true, preload: "metadata", testid: "attach-preview-audio" });
    const tooBig = limit !== null && chosen.size > limit;
    // Native append() would write a left-out part (null) as the text "null": h() leaves it out.
    const about = h(
      "p.small",
      { testid: "attach-kind", dataset: { kind } },
      h("span", { "aria-hidden": "true" }, { image: "📷 ", video: "🎬 ", audio: "🎵 ", document: "📄 " }[kind]),
      h("strong", chosen.name || KIND_WORDS[kind]),
      ` · ${KIND_WORDS[kind]} · ${fmtBytes(chosen.size)}`,
    );
    const warning = tooBig ? h("p.alert.alert-warn.small", { testid: "attach-too-big" }, `Larger than the ${fmtBytes(limit)} this server accepts: it cannot be sent.`) : null;
    // Native append() would write a left-out part (null) as the text "null".
    preview.append(...[media, about, warning].filter(Boolean));
    preview.hidden = false;
    setChoices(kind);
  }

  file.input.addEventListener("change", () => show(file.input.files[0]));
  sendAs.input.addEventListener("change", captionFits);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    run(attachBtn, async () => {
      const chosen = file.input.files[0];
      if (!chosen) throw new Error("choose a file first");
      const { maxUploadBytes } = (await meta()).limits;
      if (chosen.size > maxUploadBytes) throw new Error(`the file is larger than ${fmtBytes(maxUploadBytes)}`);
      const body = new FormData();
      body.append("phone", chatId);
      body.append("as", sendAs.input.value);
      if (caption.input.value && !caption.input.disabled) body.append("caption", caption.input.value);
      const quoted = replyTo();
      if (quoted) body.append("quotedMessageId", quoted.messageId);
      body.append("file", chosen, chosen.name);
      await api.upload(`${base}/send-file`, body);
      form.reset();
      show(null);
      form.hidden = true;
      await done();
    });
  });
  form.addEventListener("reset", () => setTimeout(() => show(file.input.files[0]), 0));
  meta()
    .then(({ limits }) => {
      limit = limits.maxUploadBytes;
      caption.input.maxLength = limits.maxTextLength;
    })
    .catch(() => {});
  return form;
}

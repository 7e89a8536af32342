// Send: text, media by URL, or an uploaded file (POST /api/whatsapp/{id}/send | send-media | send-file); a file goes
// as it is, as a file, as a voice note or as a sticker (`as`).

import { api, enc } from "../api.js";
import { meta } from "../meta.js";
import { SEND_AS } from "../chat/composer.js";
import { busy, clear, field, fmtBytes, h, statusLabel } from "../ui.js";

export function render(root, ctx) {
  const base = `/api/whatsapp/${enc(ctx.id)}`;
  const phoneHint = "Digits with optional +, spaces, dashes; or a JID (…@s.whatsapp.net, …@g.us).";

  function resultLine(target, res, to) {
    target.append(
      h(
        "p.alert.alert-ok",
        { testid: "send-result" },
        "Sent, message id ",
        h("code", { testid: "sent-message-id" }, res.id),
        " · ",
        h("a", { href: `#/instances/${enc(ctx.id)}/chats/${enc(to)}`, testid: "open-chat-link" }, "open chat"),
      ),
    );
  }

  // Text
  const tPhone = field("To", { type: "text", inputmode: "tel", required: true, testid: "send-phone", placeholder: "79001234567" }, phoneHint);
  const tMessage = field("Message", { tag: "textarea", required: true, testid: "send-message" });
  const tSubmit = h("button.btn.btn-primary", { type: "submit", testid: "send-submit" }, "Send text");
  const tResult = h("div", { testid: "send-text-result", "aria-live": "polite", dataset: { errorTestid: "send-error" } });
  const textForm = h("form.card", { testid: "send-text-form" }, h("h2", "Text message"), tPhone, tMessage, h("div.row", tSubmit), tResult);
  textForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    busy(tSubmit, tResult, async () => {
      const phone = tPhone.input.value.trim();
      const res = await api.post(`${base}/send`, { phone, message: tMessage.input.value });
      resultLine(tResult, res, phone);
      tMessage.input.value = "";
    });
  });

  // Media by URL
  const mPhone = field("To", { type: "text", inputmode: "tel", required: true, testid: "media-phone" }, phoneHint);
  const mUrl = field("Media URL", { type: "url", required: true, placeholder: "https://example.com/picture.jpg", testid: "media-url" }, "The server downloads it; its content type decides image, video, audio or document.");
  const mCaption = field("Caption", { type: "text", testid: "media-caption" });
  const mFilename = field("File name", { type: "text", testid: "media-filename" }, "Optional, for documents.");
  const mAs = field("Send as", { tag: "select", testid: "media-as", options: SEND_AS });
  const mSubmit = h("button.btn.btn-primary", { type: "submit", testid: "media-submit" }, "Send media");
  const mResult = h("div", { testid: "send-media-result", "aria-live": "polite", dataset: { errorTestid: "send-error" } });
  const mediaForm = h("form.card", { testid: "send-media-form" }, h("h2", "Media by URL"), mPhone, mUrl, mCaption, mFilename, mAs, h("div.row", mSubmit), mResult);
  mediaForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    busy(mSubmit, mResult, async () => {
      const phone = mPhone.input.value.trim();
      const body = { phone, url: mUrl.input.value.trim() };
      if (mCaption.input.value) body.caption = mCaption.input.value;
      if (mFilename.input.value) body.filename = mFilename.input.value;
      if (mAs.input.value !== "auto") body.as = mAs.input.value;
      resultLine(mResult, await api.post(`${base}/send-media`, body), phone);
    });
  });

  // File upload
  const fPhone = field("To", { type: "text", inputmode: "tel", required: true, testid: "file-phone" }, phoneHint);
  const fFile = field("File", { type: "file", required: true, testid: "file-input" });
  const fCaption = field("Caption", { type: "text", testid: "file-caption" });
  const fAs = field("Send as", { tag: "select", testid: "file-as", options: SEND_AS });
  const fSubmit = h("button.btn.btn-primary", { type: "submit", testid: "file-submit" }, "Upload and send");
  const fResult = h("div", { testid: "send-file-result", "aria-live": "polite", dataset: { errorTestid: "send-error" } });
  const fileForm = h("form.card", { testid: "send-file-form" }, h("h2", "Upload a file"), fPhone, fFile, fCaption, fAs, h("div.row", fSubmit), fResult);
  fileForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    busy(fSubmit, fResult, async () => {
      const phone = fPhone.input.value.trim();
      const file = fFile.input.files[0];
      if (!file) throw new Error("choose a file first");
      const { maxUploadBytes } = (await meta()).limits;
      if (file.size > maxUploadBytes) throw new Error(`the file is larger than ${fmtBytes(maxUploadBytes)}`);
      const form = new FormData();
      form.append("phone", phone);
      if (fCaption.input.value) form.append("caption", fCaption.input.value);
      if (fAs.input.value !== "auto") form.append("as", fAs.input.value);
      form.append("file", file, file.name);
      resultLine(fResult, await api.upload(`${base}/send-file`, form), phone);
      fFile.input.value = "";
    });
  });

  const status = h("div", { testid: "send-status" });
  root.append(status, textForm, h("div.grid", mediaForm, fileForm));
  // The server's lengths, so the browser stops typing where the server would refuse (it checks anyway).
  meta()
    .then(({ limits }) => {
      for (const f of [tMessage, mCaption, fCaption]) f.input.maxLength = limits.maxTextLength;
    })
    .catch(() => {});
  const showStatus = (s) => {
    clear(status);
    if (s && s !== "connected") status.append(h("p.alert.alert-warn", { testid: "send-not-connected" }, `Not connected to WhatsApp (${statusLabel(s)}): sending needs a connected instance.`));
  };
  const offStatus = ctx.onStatus(showStatus);
  showStatus(ctx.status);
  return offStatus;
}

"""What a neonize session sends: the whatsmeow call and protobuf for every outgoing kind and action.

Blocking functions over a connected neonize client. `NeonizeSession` runs each in a worker thread
behind its gate and turns neonize's errors into `TransportError`; the ones raised here already are
(unusable input: nothing would change on a retry).

- Replies go through neonize's `build_reply_message` (or a media builder's `quoted=`), from a
  neonize `Message` rebuilt out of the `MessageRef` (`quote_of`): whatsmeow reads the quoted id,
  chat and sender from its `Info`, the preview from its `Message`.
- Mentions and forwards are set on the `contextInfo` of the content sub-message, whatever builder
  made it (`mentionedJID`, `isForwarded`).
- A plain text without quote or forward goes to `send_message` as a string, so neonize's
  `link_preview` and mention parsing apply.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from wamux.adapters.whatsapp.neonize_jids import (
    GROUP_SERVER,
    LID_SERVER,
    jid_from_string,
    jid_to_string,
)
from wamux.adapters.whatsapp.vcard import card_vcard, phone_digits
from wamux.core.ports import MessageRef, NumberCheck, OutgoingMessage, TransportError

if TYPE_CHECKING:
    from neonize.client import NewClient

VOICE_MIME = "audio/ogg; codecs=opus"
CHAT_STATES = ("typing", "recording", "paused")
PRESENCE_STATES = ("available", "unavailable")


def _invalid(message: str) -> TransportError:
    return TransportError(message, retryable=False, code="invalid_message")


def _ffmpeg_available() -> bool:
    # neonize's video and audio builders probe the file with ffmpeg/ffprobe.
    return shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


# ---- sending messages ----------------------------------------------------------------------------


def send(client: NewClient, message: OutgoingMessage) -> str:
    """Build and send `message`; WhatsApp's id of the sent message."""
    from neonize.exc import ConvertStickerError, FFProbeError

    to = jid_from_string(message.to)
    mentions = _ghost_mentions(message.mentions)
    if message.kind == "text" and message.quoted is None and not message.forwarded and mentions is not None:
        ghost, are_lids = mentions
        text = _text(message)
        response = client.send_message(
            to, text, link_preview=message.link_preview, ghost_mentions=ghost, mentions_are_lids=are_lids
        )
        return str(response.ID)
    try:
        built = build_outgoing(client, message)
    except (ConvertStickerError, FFProbeError, OSError, ValueError) as exc:
        # PIL cannot read the image, magic cannot type the bytes, ffprobe cannot read the audio, ...
        raise TransportError(f"unusable media: {exc}", retryable=False, code="invalid_media") from exc
    return str(client.send_message(to, built).ID)


def build_outgoing(client: NewClient, message: OutgoingMessage) -> Any:
    """The neonize `Message` for `message`, media uploaded first (needs the connection)."""
    builder = _BUILDERS.get(message.kind)
    if builder is None:
        raise TransportError(f"cannot send a {message.kind!r} message", retryable=False, code="unsupported_kind")
    quote = quote_of(message.quoted) if message.quoted is not None else None
    built = builder(client, message, quote)
    _set_context(built, message)
    return built


def quote_of(ref: MessageRef) -> Any:
    """The neonize `Message` (Info + content) that neonize's reply builders read a quote from."""
    from neonize.proto.Neonize_pb2 import Message as ReceivedMessage
    from neonize.proto.Neonize_pb2 import MessageInfo, MessageSource
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message

    chat = jid_from_string(ref.chat_jid)
    source = MessageSource(
        Chat=chat,
        Sender=jid_from_string(ref.sender_jid),
        IsFromMe=ref.from_me,
        IsGroup=chat.Server == GROUP_SERVER,
    )
    # The quote preview: WhatsApp shows the quoted message's text (we keep no media to quote).
    return ReceivedMessage(
        Info=MessageInfo(ID=ref.message_id, MessageSource=source),
        Message=Message(conversation=ref.body or ""),
    )


def _ghost_mentions(mentions: Sequence[str]) -> tuple[str | None, bool] | None:
    """`send_message`'s (ghost_mentions, mentions_are_lids) for `mentions`; None if they mix phones and LIDs."""
    if not mentions:
        return None, False  # neonize finds `@<digits>` in the text itself
    servers = {mention.partition("@")[2] or "s.whatsapp.net" for mention in mentions}
    if len(servers) > 1:
        return None
    return " ".join(f"@{mention.partition('@')[0]}" for mention in mentions), servers == {LID_SERVER}


def _set_context(built: Any, message: OutgoingMessage) -> None:
    """Mentions and the forward mark on the contextInfo of the content sub-message."""
    if not message.mentions and not message.forwarded:
        return
    for descriptor, content in built.ListFields():
        if descriptor.message_type is not None and "contextInfo" in descriptor.message_type.fields_by_name:
            context = content.contextInfo
            if message.mentions:
                del context.mentionedJID[:]
                context.mentionedJID.extend(message.mentions)
            if message.forwarded:
                context.isForwarded = True
                context.forwardingScore = max(context.forwardingScore, 1)
            return


def _text(message: OutgoingMessage) -> str:
    if not message.text:
        raise _invalid("a text message needs text")
    return message.text


def _data(message: OutgoingMessage) -> bytes:
    if not message.data:
        raise _invalid(f"a {message.kind} message needs data")
    return message.data


def _wrapped(client: NewClient, content: Any, quote: Any | None) -> Any:
    """A `Message` holding `content` (a LocationMessage, ContactMessage, ...), replying to `quote`."""
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message

    if quote is not None:
        return client.build_reply_message(content, quote)
    name = type(content).__name__
    return Message(**{name[0].lower() + name[1:]: content})


def _build_text(client: NewClient, message: OutgoingMessage, quote: Any | None) -> Any:
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import ExtendedTextMessage, Message

    text = _text(message)
    if quote is not None:
        return client.build_reply_message(text, quote, link_preview=message.link_preview)
    return Message(extendedTextMessage=ExtendedTextMessage(text=text))


def _build_image(client: NewClient, message: OutgoingMessage, quote: Any | None) -> Any:
    built = client.build_image_message(_data(message), caption=message.caption, quoted=quote)
    if message.mime_type:
        built.imageMessage.mimetype = message.mime_type
    return built


def _build_video(client: NewClient, message: OutgoingMessage, quote: Any | None) -> Any:
    if not _ffmpeg_available():
        return _build_document(client, message, quote)
    built = client.build_video_message(_data(message), caption=message.caption, quoted=quote)
    if message.mime_type:
        built.videoMessage.mimetype = message.mime_type
    return built


def _build_audio(client: NewClient, message: OutgoingMessage, quote: Any | None) -> Any:
    voice = message.kind == "voice"
    data = _data(message)
    if _ffmpeg_available():
        built = client.build_audio_message(data, ptt=voice, quoted=quote)
    else:
        built = _wrapped(client, _uploaded_audio(client, data, voice), quote)
    mime = VOICE_MIME if voice else message.mime_type
    if mime:
        built.audioMessage.mimetype = mime
    return built


def _uploaded_audio(client: NewClient, data: bytes, ptt: bool) -> Any:
    """An AudioMessage without neonize's ffprobe of the duration (when ffmpeg is not installed)."""
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import AudioMessage
    from neonize.utils.enum import MediaType

    upload = client.upload(data, MediaType.MediaAudio)
    return AudioMessage(
        URL=upload.url,
        directPath=upload.DirectPath,
        fileEncSHA256=upload.FileEncSHA256,
        fileLength=upload.FileLength,
        fileSHA256=upload.FileSHA256,
        mediaKey=upload.MediaKey,
        PTT=ptt,
    )


def _build_document(client: NewClient, message: OutgoingMessage, quote: Any | None) -> Any:
    return client.build_document_message(
        _data(message),
        caption=message.caption,
        title=message.file_name,
        filename=message.file_name,
        mimetype=message.mime_type,
        quoted=quote,
    )


def _build_sticker(client: NewClient, message: OutgoingMessage, quote: Any | None) -> Any:
    # `passthrough`: the bytes are already a 512x512 WebP; neonize would otherwise re-encode them.
    return client.build_sticker_message(_data(message), quoted=quote, passthrough=True)


def _build_location(client: NewClient, message: OutgoingMessage, quote: Any | None) -> Any:
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import LocationMessage

    place = message.location
    if place is None:
        raise _invalid("a location message needs a location")
    location = LocationMessage(degreesLatitude=place.latitude, degreesLongitude=place.longitude)
    if place.name:
        location.name = place.name
    if place.address:
        location.address = place.address
    return _wrapped(client, location, quote)


def _build_contact(client: NewClient, message: OutgoingMessage, quote: Any | None) -> Any:
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import ContactMessage, ContactsArrayMessage

    if not message.contacts:
        raise _invalid("a contact message needs contacts")
    cards = [ContactMessage(displayName=card.name, vcard=card_vcard(card)) for card in message.contacts]
    if len(cards) == 1:
        return _wrapped(client, cards[0], quote)
    return _wrapped(client, ContactsArrayMessage(displayName=f"{len(cards)} contacts", contacts=cards), quote)


def _build_poll(client: NewClient, message: OutgoingMessage, quote: Any | None) -> Any:
    from neonize.utils.enum import VoteType

    poll = message.poll
    if poll is None:
        raise _invalid("a poll message needs a poll")
    single = poll.selectable_count == 1
    vote_type = VoteType.SINGLE if single else VoteType.MULTIPLE
    built = client.build_poll_vote_creation(poll.question, list(poll.options), vote_type, quoted=quote)
    if not single:
        # neonize names only "one" or "any"; a limit in between is the count on the poll itself.
        for descriptor, content in built.ListFields():
            if descriptor.name.startswith("pollCreationMessage"):
                content.selectableOptionsCount = poll.selectable_count
    return built


_BUILDERS: dict[str, Callable[[Any, OutgoingMessage, Any | None], Any]] = {
    "text": _build_text,
    "image": _build_image,
    "video": _build_video,
    "audio": _build_audio,
    "voice": _build_audio,
    "document": _build_document,
    "sticker": _build_sticker,
    "location": _build_location,
    "contact": _build_contact,
    "poll": _build_poll,
}


# ---- acting on messages, chats and the account -------------------------------------------------------


def react(client: NewClient, target: MessageRef, emoji: str) -> str:
    chat = jid_from_string(target.chat_jid)
    reaction = client.build_reaction(chat, jid_from_string(target.sender_jid), target.message_id, emoji)
    return str(client.send_message(chat, reaction).ID)


def edit(client: NewClient, target: MessageRef, text: str) -> str:
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message

    chat = jid_from_string(target.chat_jid)
    return str(client.edit_message(chat, target.message_id, Message(conversation=text)).ID)


def revoke(client: NewClient, target: MessageRef) -> str:
    chat = jid_from_string(target.chat_jid)
    # Our own message by our own JID as whatsmeow knows it: neonize marks the key fromMe by comparing users.
    sender = client.get_me().JID if target.from_me else jid_from_string(target.sender_jid)
    return str(client.revoke_message(chat, sender, target.message_id).ID)


def mark_read(client: NewClient, chat_jid: str, sender_jid: str, message_ids: Sequence[str]) -> None:
    from neonize.utils.enum import ReceiptType

    if not message_ids:
        return
    client.mark_read(
        *message_ids,
        chat=jid_from_string(chat_jid),
        sender=jid_from_string(sender_jid),
        receipt=ReceiptType.READ,
    )


def chat_presence(client: NewClient, chat_jid: str, state: str) -> None:
    from neonize.utils.enum import ChatPresence, ChatPresenceMedia

    if state not in CHAT_STATES:
        raise TransportError(f"unknown chat presence {state!r}", retryable=False, code="invalid_state")
    composing = ChatPresence.CHAT_PRESENCE_COMPOSING
    text, audio = ChatPresenceMedia.CHAT_PRESENCE_MEDIA_TEXT, ChatPresenceMedia.CHAT_PRESENCE_MEDIA_AUDIO
    settings = {
        "typing": (composing, text),
        "recording": (composing, audio),
        "paused": (ChatPresence.CHAT_PRESENCE_PAUSED, text),
    }
    chat_state, media = settings[state]
    client.send_chat_presence(jid_from_string(chat_jid), chat_state, media)


def presence(client: NewClient, state: str) -> None:
    from neonize.utils.enum import Presence

    if state not in PRESENCE_STATES:
        raise TransportError(f"unknown presence {state!r}", retryable=False, code="invalid_state")
    client.send_presence(Presence.AVAILABLE if state == "available" else Presence.UNAVAILABLE)


def check_numbers(client: NewClient, phones: Sequence[str]) -> list[NumberCheck]:
    """`is_on_whatsapp` for `phones`, answered in the order asked (WhatsApp answers in its own)."""
    if not phones:
        return []
    asked = [phone_digits(phone) or phone for phone in phones]
    answers: dict[str, Any] = {}
    for answer in client.is_on_whatsapp(*(f"+{digits}" for digits in asked)):
        key = phone_digits(answer.Query) or answer.JID.User
        answers[key] = answer
    results: list[NumberCheck] = []
    for phone, digits in zip(phones, asked, strict=True):
        answer = answers.get(digits)
        if answer is None or not answer.IsIn:
            results.append(NumberCheck(phone=phone, exists=False))
            continue
        results.append(
            NumberCheck(phone=phone, exists=True, jid=jid_to_string(answer.JID), lid=_lid(client, answer.JID))
        )
    return results


def _lid(client: NewClient, jid: Any) -> str | None:
    """The LID whatsmeow has learned for a phone JID, if any (a local lookup, no network)."""
    from neonize.exc import NeonizeError

    try:
        lid = client.get_lid_from_pn(jid)
    except NeonizeError:
        return None
    return jid_to_string(lid) if lid.User else None

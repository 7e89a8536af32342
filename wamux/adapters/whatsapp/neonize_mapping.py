"""neonize (whatsmeow) events and messages → the transport port's `TransportEvent`s.

Pure functions over neonize's protobuf objects: nothing here talks to a client or the network,
so every mapping is unit-tested with real protobufs. neonize is imported inside the functions
because importing any part of it loads the Go library and reconfigures logging (~0.5 s).

What neonize 0.5.2 delivers, as read from its source:
- QR codes reach the client's `event.qr` callback one at a time (`bytes`), each when the previous
  one expires; the `QR` event (a list of codes) exists too and is mapped for completeness.
- The end of QR pairing ("timeout", "err-client-outdated", ...) reaches only the client's
  login-status callback as a plain string: `connection_lost_from_login_status` maps it.
- `MessageInfo.Timestamp` is unix milliseconds in current neonize builds and was seconds in
  older ones; `unix_seconds` accepts both.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from wamux.core.ports import (
    ConnectionLost,
    IncomingMessage,
    LinkConnected,
    PairSuccess,
    QrCode,
    Receipt,
    RemoteContact,
    TransportEvent,
)

USER_SERVER = "s.whatsapp.net"
GROUP_SERVER = "g.us"

# Sub-messages that carry a downloadable file, and the message_type each one means.
MEDIA_FIELDS: dict[str, str] = {
    "imageMessage": "image",
    "videoMessage": "video",
    "ptvMessage": "video",  # round "video note"
    "audioMessage": "audio",
    "documentMessage": "document",
    "stickerMessage": "sticker",
}
# Envelopes around the real content (whatsmeow unwraps most of them already; a few slip through).
_WRAPPER_FIELDS = (
    "deviceSentMessage",
    "ephemeralMessage",
    "viewOnceMessage",
    "viewOnceMessageV2",
    "viewOnceMessageV2Extension",
    "documentWithCaptionMessage",
    "editedMessage",
)
# Fields that ride along with content but are no content of their own: key distribution,
# app-state/history-sync protocol traffic, per-message metadata.
_HOUSEKEEPING_FIELDS = frozenset(
    {
        "senderKeyDistributionMessage",
        "fastRatchetKeySenderKeyDistributionMessage",
        "messageContextInfo",
        "protocolMessage",
    }
)
# Timestamps above this are milliseconds (as seconds it would be the year 5138).
_MILLISECONDS_THRESHOLD = 100_000_000_000

# Reasons a connection can fail for good: reconnecting as-is will not help.
_PERMANENT_FAILURES = frozenset({"TEMP_BANNED", "CLIENT_OUTDATED", "BAD_USER_AGENT"})
# ConnectFailure reasons that mean the device was unlinked (whatsmeow's `IsLoggedOut()`).
_LOGGED_OUT_FAILURES = frozenset({"LOGGED_OUT", "MAIN_DEVICE_GONE", "UNKNOWN_LOGOUT"})

# whatsmeow's QR-channel outcomes other than "code" and "success", as the login-status callback
# reports them.
_LOGIN_STATUS_ENDINGS: dict[str, ConnectionLost] = {
    "timeout": ConnectionLost(reason="qr_timeout"),
    "err-client-outdated": ConnectionLost(reason="client_outdated", permanent=True),
    "err-scanned-without-multidevice": ConnectionLost(reason="scanned_without_multidevice"),
    "err-unexpected-state": ConnectionLost(reason="pairing_unexpected_state"),
    "error": ConnectionLost(reason="pairing_error"),
}


# ---- JIDs ------------------------------------------------------------------------------------


def jid_to_string(jid: Any) -> str:
    """`user@server` for a neonize `JID`, without the device/agent part (`1:4@s.whatsapp.net` → `1@...`)."""
    from neonize.utils.jid import Jid2String, JIDToNonAD

    return str(Jid2String(JIDToNonAD(jid)))


def account_jid(raw: str) -> str:
    """Drop the device/agent part from a JID string, as stored in whatsmeow's device table."""
    user, at, server = raw.partition("@")
    if not at:
        return raw
    return f"{user.split(':', 1)[0].split('.', 1)[0]}@{server}"


def jid_from_string(value: str) -> Any:
    """A neonize `JID` from `123@s.whatsapp.net`, `123:4@s.whatsapp.net`, `...@g.us` or bare digits."""
    from neonize.utils.jid import build_jid

    text = value.strip()
    user, at, server = text.partition("@")
    if not at:
        return build_jid(text.lstrip("+"), USER_SERVER)
    device = 0
    if ":" in user:
        user, device_text = user.split(":", 1)
        device = int(device_text)
    raw_agent = 0
    if "." in user and server in (USER_SERVER, "lid"):
        user, agent_text = user.split(".", 1)
        raw_agent = int(agent_text)
    jid = build_jid(user, server)
    jid.Device = device
    jid.RawAgent = raw_agent
    return jid


def unix_seconds(value: int) -> int | None:
    """Unix seconds from a neonize timestamp in seconds or milliseconds; None when unset (0)."""
    if value <= 0:
        return None
    return value // 1000 if value >= _MILLISECONDS_THRESHOLD else value


# ---- connection events -----------------------------------------------------------------------


def qr_code_from_bytes(data: bytes) -> QrCode:
    """One code as the client's `event.qr` callback receives it."""
    return QrCode(code=data.decode("utf-8").strip())


def qr_codes_from_event(event: Any) -> list[QrCode]:
    """A `QREv` carries every code of a pairing round; the session shows them one at a time."""
    return [QrCode(code=code) for code in event.Codes if code]


def pair_status(event: Any) -> PairSuccess | ConnectionLost:
    """`PairStatusEv`: success links the device; an error ends this connection so a fresh QR follows."""
    if event.Status == type(event).SUCCESS:
        return PairSuccess(jid=jid_to_string(event.ID), push_name=event.BusinessName or None)
    return ConnectionLost(reason="pair_failed")


def link_connected(_event: Any) -> LinkConnected:
    """`ConnectedEv` carries no identity; the session fills in the linked JID from its store."""
    return LinkConnected()


def connection_lost_from_disconnect(_event: Any) -> ConnectionLost:
    return ConnectionLost(reason="connection_lost")


def _failure_reason_name(event: Any) -> str | None:
    """The `ConnectFailureReason` enum name of `event.Reason`, or None when unset or unknown."""
    if not event.HasField("Reason"):
        return None
    from neonize.proto.Neonize_pb2 import ConnectFailureReason

    try:
        return str(ConnectFailureReason.Name(event.Reason))
    except ValueError:
        return None


def connection_lost_from_logout(event: Any) -> ConnectionLost:
    """`LoggedOutEv`: the phone unlinked this device (or the server did, with a reason)."""
    name = _failure_reason_name(event)
    reason = "logged_out" if name is None or name == "GENERIC" else name.lower()
    return ConnectionLost(reason=reason, logged_out=True)


def connection_lost_from_connect_failure(event: Any) -> ConnectionLost:
    """`ConnectFailureEv`: the server refused the connection, with a reason code."""
    name = _failure_reason_name(event)
    if name is None:
        return ConnectionLost(reason="connect_failure")
    return ConnectionLost(
        reason=name.lower(),
        logged_out=name in _LOGGED_OUT_FAILURES,
        permanent=name in _PERMANENT_FAILURES,
    )


def connection_lost_from_temporary_ban(_event: Any) -> ConnectionLost:
    return ConnectionLost(reason="temp_banned", permanent=True)


def connection_lost_from_client_outdated(_event: Any) -> ConnectionLost:
    return ConnectionLost(reason="client_outdated", permanent=True)


def connection_lost_from_stream_replaced(_event: Any) -> ConnectionLost:
    # Another client took over these credentials; reconnecting on our own would just kick it off
    # again, back and forth, so an operator decides.
    return ConnectionLost(reason="stream_replaced", permanent=True)


def connection_lost_from_login_status(status: str) -> ConnectionLost | None:
    """The end of QR pairing as the login-status callback reports it; None for "success" and unknowns."""
    return _LOGIN_STATUS_ENDINGS.get(status.strip())


# ---- receipts ----------------------------------------------------------------------------------


def receipt_from_event(event: Any) -> Receipt | None:
    """`ReceiptEv` → delivered/read; sender, retry, server-error and other kinds → None (ignore)."""
    kinds = type(event)
    if event.Type == kinds.DELIVERED:
        status = "delivered"
    elif event.Type in (kinds.READ, kinds.READ_SELF, kinds.PLAYED):
        status = "read"
    else:
        return None
    message_ids = tuple(mid for mid in event.MessageIDs if mid)
    if not message_ids:
        return None
    source = event.MessageSource
    return Receipt(
        message_ids=message_ids,
        status=status,
        chat_jid=_jid_or_none(source, "Chat"),
        sender_jid=_jid_or_none(source, "Sender"),
    )


def _jid_or_none(holder: Any, field: str) -> str | None:
    if not holder.HasField(field):
        return None
    return jid_to_string(getattr(holder, field)) or None


# ---- messages ----------------------------------------------------------------------------------


def unwrap_message(message: Any) -> Any:
    """The content inside ephemeral/view-once/device-sent/document-with-caption envelopes."""
    for _ in range(4):  # envelopes nest at most a couple of levels deep
        for name in _WRAPPER_FIELDS:
            if message.HasField(name) and getattr(message, name).HasField("message"):
                message = getattr(message, name).message
                break
        else:
            return message
    return message


def media_kind(message: Any) -> str | None:
    """The sub-message field (`imageMessage`, `audioMessage`, ...) whose file needs downloading, or None."""
    content = unwrap_message(message)
    for name in MEDIA_FIELDS:
        if content.HasField(name):
            return name
    return None


def message_from_event(event: Any) -> IncomingMessage | None:
    """`MessageEv` → `IncomingMessage`; None for protocol-only traffic that carries no content."""
    info = event.Info
    source = info.MessageSource
    content = unwrap_message(event.Message)
    fields = _content_fields(content)
    if fields is None:
        return None
    return IncomingMessage(
        message_id=info.ID,
        chat_jid=jid_to_string(source.Chat),
        sender_jid=jid_to_string(source.Sender),
        push_name=info.Pushname or None,
        is_group=source.IsGroup,
        from_me=source.IsFromMe,
        timestamp=unix_seconds(info.Timestamp),
        **fields,
    )


def _content_fields(content: Any) -> dict[str, Any] | None:
    """message_type, body, caption, mime_type, file_name and extra of one (unwrapped) message."""
    if content.HasField("conversation") or content.HasField("extendedTextMessage"):
        body = content.conversation if content.HasField("conversation") else content.extendedTextMessage.text
        return {"message_type": "text", "body": body}
    for name, kind in MEDIA_FIELDS.items():
        if content.HasField(name):
            return _media_fields(kind, getattr(content, name))
    if content.HasField("locationMessage"):
        return {"message_type": "location", "extra": _location_extra(content.locationMessage, live=False)}
    if content.HasField("liveLocationMessage"):
        return {"message_type": "location", "extra": _location_extra(content.liveLocationMessage, live=True)}
    if content.HasField("contactMessage"):
        return {"message_type": "contact", "extra": _contact_extra(content.contactMessage)}
    if content.HasField("contactsArrayMessage"):
        array = content.contactsArrayMessage
        extra: dict[str, Any] = {"contacts": [_contact_extra(c) for c in array.contacts]}
        if array.displayName:
            extra["display_name"] = array.displayName
        return {"message_type": "contact", "extra": extra}
    others = [fd.name for fd, _ in content.ListFields() if fd.name not in _HOUSEKEEPING_FIELDS]
    if not others:
        return None
    return {"message_type": "other", "extra": {"kind": others[0]}}


def _media_fields(kind: str, media: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"message_type": kind, "mime_type": media.mimetype or None}
    if kind in ("image", "video", "document"):
        fields["caption"] = media.caption or None
    if kind == "document":
        fields["file_name"] = media.fileName or None
    extra: dict[str, Any] = {}
    if kind in ("audio", "video") and media.seconds:
        extra["seconds"] = media.seconds
    if kind == "audio":
        extra["ptt"] = media.PTT  # a voice note rather than an audio file
    if extra:
        fields["extra"] = extra
    return fields


def _location_extra(location: Any, *, live: bool) -> dict[str, Any]:
    extra: dict[str, Any] = {
        "latitude": location.degreesLatitude,
        "longitude": location.degreesLongitude,
    }
    if live:
        extra["live"] = True
        if location.caption:
            extra["name"] = location.caption
        return extra
    if location.name:
        extra["name"] = location.name
    if location.address:
        extra["address"] = location.address
    return extra


def _contact_extra(contact: Any) -> dict[str, Any]:
    return {"display_name": contact.displayName or None, "vcard": contact.vcard or None}


# ---- address book ------------------------------------------------------------------------------


def remote_contact(contact: Any) -> RemoteContact:
    """One entry of `client.contact.get_all_contacts()` (a neonize `Contact`)."""
    jid = jid_to_string(contact.JID)
    info = contact.Info
    name = info.FullName or info.FirstName or info.BusinessName or None
    return RemoteContact(
        jid=jid,
        name=name,
        number=contact.JID.User,
        is_group=contact.JID.Server == GROUP_SERVER,
        push_name=info.PushName or None,
    )


# ---- one entry point per event type ------------------------------------------------------------


@functools.cache
def event_mappers() -> dict[type, Callable[[Any], TransportEvent | None]]:
    """Every neonize event type the transport listens to, with its mapping."""
    from neonize.events import (
        ClientOutdatedEv,
        ConnectedEv,
        ConnectFailureEv,
        DisconnectedEv,
        LoggedOutEv,
        MessageEv,
        PairStatusEv,
        ReceiptEv,
        StreamReplacedEv,
        TemporaryBanEv,
    )

    return {
        PairStatusEv: pair_status,
        ConnectedEv: link_connected,
        DisconnectedEv: connection_lost_from_disconnect,
        LoggedOutEv: connection_lost_from_logout,
        ConnectFailureEv: connection_lost_from_connect_failure,
        TemporaryBanEv: connection_lost_from_temporary_ban,
        ClientOutdatedEv: connection_lost_from_client_outdated,
        StreamReplacedEv: connection_lost_from_stream_replaced,
        MessageEv: message_from_event,
        ReceiptEv: receipt_from_event,
    }


def transport_event(event: Any) -> TransportEvent | None:
    """Map any neonize event; None when the port has nothing to say about it."""
    mapper = event_mappers().get(type(event))
    return None if mapper is None else mapper(event)

"""neonize (whatsmeow) events → the transport port's `TransportEvent`s.

Pure functions over neonize's protobuf objects: nothing here talks to a client or the network,
so every mapping is unit-tested with real protobufs. neonize is imported inside the functions
because importing any part of it loads the Go library and reconfigures logging (~0.5 s).
Messages (content, reactions, edits, revokes, poll votes) are mapped in `neonize_messages`, JIDs
and timestamps in `neonize_jids`; `event_mappers` names the mapping of every event type.

What neonize 0.5.2 delivers, as read from its source:
- QR codes reach the client's `event.qr` callback one at a time (`bytes`), each when the previous
  one expires; the `QR` event (a list of codes) exists too and is mapped for completeness.
- The end of QR pairing ("timeout", "err-client-outdated", ...) reaches only the client's
  login-status callback as a plain string: `connection_lost_from_login_status` maps it.
- `MessageInfo.Timestamp` is unix milliseconds in current neonize builds and was seconds in
  older ones; `unix_seconds` accepts both.
- Typing indicators arrive as `ChatPresenceEv` (composing/paused, media audio = recording) and a
  contact's online state as `PresenceEv`; the client subscribes to an event type by registering a
  handler for it (`connect` sends the registered codes to Go).
- A call offer (`CallOfferEv`) carries the `<offer>` node whatsmeow received as `data`: a
  `<video>` child makes it a video call, a `group-jid` (or `type="group"`) attribute a group call.
- One neonize event can mean several transport events (`transport_events`): the LID ⇄ phone pairs
  it carries (`IdentityIn`, see `neonize_identities`) come first, then what happened. Group events
  are mapped in `neonize_groups`, history sync chunks (`HistorySyncEv`) in `neonize_history`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from wamux.adapters.whatsapp import neonize_groups as groups
from wamux.adapters.whatsapp import neonize_history as history
from wamux.adapters.whatsapp import neonize_identities as identities
from wamux.adapters.whatsapp.neonize_jids import GROUP_SERVER, jid_or_none, jid_to_string, unix_seconds
from wamux.adapters.whatsapp.neonize_messages import from_message_event
from wamux.core.ports import (
    CallIn,
    ConnectionLost,
    IdentityIn,
    LinkConnected,
    PairSuccess,
    PresenceIn,
    QrCode,
    Receipt,
    RemoteContact,
    TransportEvent,
)

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
        chat_jid=jid_or_none(source, "Chat"),
        sender_jid=jid_or_none(source, "Sender"),
    )


# ---- presence ----------------------------------------------------------------------------------


def chat_presence(event: Any) -> PresenceIn:
    """`ChatPresenceEv`: typing (composing text), recording (composing audio) or paused, in one chat."""
    kinds = type(event)
    if event.State == kinds.PAUSED:
        state = "paused"
    elif event.Media == kinds.AUDIO:
        state = "recording"
    else:
        state = "typing"
    source = event.MessageSource
    return PresenceIn(chat_jid=jid_to_string(source.Chat), sender_jid=jid_to_string(source.Sender), state=state)


def presence(event: Any) -> PresenceIn | None:
    """`PresenceEv`: a contact went online or offline (only for contacts we subscribed to)."""
    who = jid_or_none(event, "From")
    if who is None:
        return None
    return PresenceIn(chat_jid=who, sender_jid=who, state="unavailable" if event.Unavailable else "available")


# ---- calls -------------------------------------------------------------------------------------


def call_offer(event: Any) -> tuple[TransportEvent, ...]:
    """`CallOfferEv`: the caller's LID ⇄ phone pair when told, then `CallIn` from the caller as WhatsApp named it.

    `from_jid` stays what the offer says (a LID or a phone JID): `reject_call` must name the caller
    exactly so, and the core shows the phone once it knows the pair.
    """
    meta = event.basicCallMeta
    if not meta.callID or not identities.is_set(meta.callCreator):
        return ()
    offer = _offer_node(event.data) if event.HasField("data") else None
    call = CallIn(
        call_id=meta.callID,
        from_jid=jid_to_string(meta.callCreator),
        is_video=offer is not None and any(child.Tag == "video" for child in offer.Nodes),
        is_group=offer is not None and _is_group_offer(offer),
        timestamp=unix_seconds(meta.timestamp),
    )
    return (*identities.unique([identities.from_fields(meta, "callCreator", "callCreatorAlt")]), call)


def _offer_node(node: Any) -> Any:
    """The `<offer>` node (whatsmeow hands it over as is; a whole `<call>` node is unwrapped)."""
    if node.Tag == "call":
        for child in node.Nodes:
            if child.Tag == "offer":
                return child
    return node


def _is_group_offer(offer: Any) -> bool:
    for attribute in offer.Attrs:
        if attribute.name == "group-jid" or (attribute.name == "type" and attribute.text == "group"):
            return True
    return False


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


# A mapping answers one transport event, several (in order), or None.
Mapped = TransportEvent | tuple[TransportEvent, ...] | None


@functools.cache
def event_mappers() -> dict[type, Callable[[Any], Mapped]]:
    """Every neonize event type the transport listens to, with its mapping."""
    from neonize.events import (
        CallOfferEv,
        ChatPresenceEv,
        ClientOutdatedEv,
        ConnectedEv,
        ConnectFailureEv,
        DisconnectedEv,
        GroupInfoEv,
        HistorySyncEv,
        JoinedGroupEv,
        LoggedOutEv,
        MessageEv,
        PairStatusEv,
        PresenceEv,
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
        MessageEv: from_message_event,
        ReceiptEv: receipt_from_event,
        ChatPresenceEv: chat_presence,
        PresenceEv: presence,
        JoinedGroupEv: groups.joined_group,
        GroupInfoEv: groups.group_changed,
        CallOfferEv: call_offer,
        HistorySyncEv: history.history_sync,
    }


def transport_events(event: Any) -> list[TransportEvent]:
    """Every transport event a neonize event means: the identities its message source reveals, then the rest."""
    mapper = event_mappers().get(type(event))
    if mapper is None:
        return []
    mapped = mapper(event)
    found: list[TransportEvent] = list(identities.from_event(event))
    if isinstance(mapped, tuple):
        found.extend(mapped)
    elif mapped is not None:
        found.append(mapped)
    return found


def transport_event(event: Any) -> TransportEvent | None:
    """The one event a neonize event means, LID ⇄ phone pairs aside; None when it means none (or several)."""
    events = [mapped for mapped in transport_events(event) if not isinstance(mapped, IdentityIn)]
    return events[0] if len(events) == 1 else None

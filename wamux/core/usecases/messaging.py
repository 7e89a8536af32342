"""Use cases of sending: text, media (by URL or upload, as a file, voice note or sticker), location,
contact cards, polls, and forwarding a message of history.

Followed through the code, a send goes: route (parse) → `Messaging.send_*` (authorize, find the
quoted message, prepare media) → `InstanceActor.execute(Send)` (idempotency, limits, pacing, the
transport, `message_sent`) → the event store.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import trio

from wamux.core import commands as c
from wamux.core.instance_actor import InstanceActor
from wamux.core.ports import (
    ContactCard,
    Location,
    MediaConverter,
    MediaFetch,
    MediaFiles,
    MessageLookup,
    MessageRef,
    OutgoingMessage,
    Poll,
)
from wamux.core.supervisor import Supervisor
from wamux.core.usecases.access import limited, owned
from wamux.domain.errors import InstanceNotConnected, MessageNotFound, ValidationFailed
from wamux.domain.media import kind_of
from wamux.domain.phones import to_jid
from wamux.domain.text import safe_file_name
from wamux.domain.users import User

SEND_AS = ("auto", "document", "voice", "sticker")
MEDIA_KINDS = frozenset({"image", "video", "audio", "voice", "document", "sticker"})


@dataclass(frozen=True)
class SendOptions:
    """What every send route may add: a reply, mentions, an Idempotency-Key."""

    quoted_message_id: str | None = None
    mentions: Sequence[str] = field(default_factory=tuple)  # phones or JIDs
    key: str | None = None


def ref_of(doc: dict[str, Any]) -> MessageRef:
    """A message of history (a messages read-model row) as the transport identifies it."""
    return MessageRef(
        message_id=str(doc["messageId"]),
        chat_jid=str(doc["remoteJid"]),
        sender_jid=str(doc.get("sender") or ""),
        from_me=bool(doc.get("fromMe")),
        body=doc.get("content") if isinstance(doc.get("content"), str) else None,
        message_type=str(doc.get("messageType") or "text"),
    )


class MessagingUseCases:
    def __init__(
        self,
        registry: Supervisor,
        history: MessageLookup,
        media: MediaFiles,
        fetcher: MediaFetch,
        sniff: Callable[[bytes], str],
        converter: MediaConverter,
    ) -> None:
        self.registry = registry
        self.history = history
        self.media = media
        self.fetcher = fetcher
        self.sniff = sniff
        self.converter = converter

    async def message(self, actor: InstanceActor, message_id: str) -> dict[str, Any]:
        """A message of the instance's history, or 404 `message_not_found`."""
        doc = await self.history.message(actor.id, message_id)
        if doc is None:
            raise MessageNotFound("message not found", details={"messageId": message_id})
        return dict(doc)

    async def _send(
        self,
        caller: User,
        actor: InstanceActor,
        message: OutgoingMessage,
        options: SendOptions,
        *,
        media_path: str | None = None,
    ) -> c.SendOutcome:
        quoted = None
        if options.quoted_message_id:
            quoted = ref_of(await self.message(actor, options.quoted_message_id))
        mentions = tuple(to_jid(m) for m in options.mentions)
        message = replace(message, quoted=quoted, mentions=mentions)
        return await actor.execute(
            c.Send(message, media_path=media_path, idempotency_key=options.key, enforce_limits=limited(caller))
        )

    async def send_text(
        self,
        caller: User,
        instance_id: str,
        to: str,
        text: str,
        options: SendOptions = SendOptions(),
        *,
        link_preview: bool = False,
    ) -> c.SendOutcome:
        actor = owned(self.registry, caller, instance_id)
        message = OutgoingMessage(to=to, kind="text", text=text, link_preview=link_preview)
        return await self._send(caller, actor, message, options)

    async def send_location(
        self, caller: User, instance_id: str, to: str, location: Location, options: SendOptions = SendOptions()
    ) -> c.SendOutcome:
        actor = owned(self.registry, caller, instance_id)
        return await self._send(caller, actor, OutgoingMessage(to=to, kind="location", location=location), options)

    async def send_contacts(
        self,
        caller: User,
        instance_id: str,
        to: str,
        cards: Sequence[ContactCard],
        options: SendOptions = SendOptions(),
    ) -> c.SendOutcome:
        actor = owned(self.registry, caller, instance_id)
        message = OutgoingMessage(to=to, kind="contact", contacts=tuple(cards))
        return await self._send(caller, actor, message, options)

    async def send_poll(
        self, caller: User, instance_id: str, to: str, poll: Poll, options: SendOptions = SendOptions()
    ) -> c.SendOutcome:
        actor = owned(self.registry, caller, instance_id)
        message = OutgoingMessage(to=to, kind="poll", text=poll.question, poll=poll)
        return await self._send(caller, actor, message, options)

    async def send_url(
        self,
        caller: User,
        instance_id: str,
        to: str,
        url: str,
        *,
        caption: str | None,
        file_name: str | None,
        send_as: str = "auto",
        options: SendOptions = SendOptions(),
    ) -> c.SendOutcome:
        """Download `url` under the outbound rule (admins may reach private addresses), then send it."""
        actor = owned(self.registry, caller, instance_id)
        if actor.status != "connected":  # fail fast, before downloading anything
            raise InstanceNotConnected(f"instance is not connected (status {actor.status})")
        fetched = await self.fetcher.fetch(url, file_name, trusted=caller.role == "admin")
        return await self._send_bytes(caller, actor, to, fetched.data, caption, fetched.file_name, send_as, options)

    async def send_upload(
        self,
        caller: User,
        instance_id: str,
        to: str,
        data: bytes,
        *,
        caption: str | None,
        file_name: str | None,
        send_as: str = "auto",
        options: SendOptions = SendOptions(),
    ) -> c.SendOutcome:
        actor = owned(self.registry, caller, instance_id)
        return await self._send_bytes(caller, actor, to, data, caption, file_name, send_as, options)

    async def _send_bytes(
        self,
        caller: User,
        actor: InstanceActor,
        to: str,
        data: bytes,
        caption: str | None,
        file_name: str | None,
        send_as: str,
        options: SendOptions,
    ) -> c.SendOutcome:
        if send_as not in SEND_AS:
            raise ValidationFailed("as must be auto, document, voice or sticker", details={"as": "invalid"})
        mime = self.sniff(data)
        kind = kind_of(mime)
        if send_as == "document":
            kind = "document"
        elif send_as == "voice":
            if not mime.startswith(("audio/", "video/")) and mime != "application/ogg":
                raise ValidationFailed("a voice note needs audio", details={"as": "voice", "mimeType": mime})
            data, mime = await self.converter.voice_note(data, mime)
            kind, caption, file_name = "voice", None, None
        elif send_as == "sticker":
            if not mime.startswith("image/"):
                raise ValidationFailed("a sticker needs an image", details={"as": "sticker", "mimeType": mime})
            data, mime = await self.converter.sticker(data), "image/webp"
            kind, caption, file_name = "sticker", None, None
        file_name = safe_file_name(file_name)  # it travels to WhatsApp and back out in Content-Disposition
        if kind == "document" and not file_name:
            file_name = "file"
        media_path = await trio.to_thread.run_sync(self.media.save, actor.id, data, mime, file_name)
        message = OutgoingMessage(to=to, kind=kind, caption=caption, data=data, mime_type=mime, file_name=file_name)
        return await self._send(caller, actor, message, options, media_path=media_path)

    async def forward(self, caller: User, instance_id: str, message_id: str, to: str) -> c.SendOutcome:
        """Send a message of history again, to `to`, marked forwarded (same type; media from the stored file)."""
        actor = owned(self.registry, caller, instance_id)
        doc = await self.message(actor, message_id)
        if doc.get("revoked"):
            raise ValidationFailed("the message was deleted", details={"messageId": "revoked"})
        kind = str(doc.get("messageType") or "text")
        body = doc.get("content") if isinstance(doc.get("content"), str) else None
        data = None
        if doc.get("mediaPath"):
            path = self.media.open_path(str(doc["mediaPath"]))
            if path is None:
                raise MessageNotFound("the message's media is gone", details={"messageId": message_id})
            data = await trio.to_thread.run_sync(path.read_bytes)
        elif kind in MEDIA_KINDS:
            raise MessageNotFound("the message's media was not kept", details={"messageId": message_id})
        location = doc.get("location")
        poll = doc.get("poll")
        message = OutgoingMessage(
            to=to,
            kind=kind,
            text=body if kind in ("text", "poll") else None,
            caption=doc.get("caption"),
            data=data,
            mime_type=doc.get("mimeType"),
            file_name=doc.get("fileName"),
            forwarded=True,
            location=Location(**location) if isinstance(location, dict) else None,
            contacts=tuple(ContactCard(**card) for card in doc.get("contacts") or ()),
            poll=(
                Poll(str(poll["question"]), tuple(poll["options"]), int(poll.get("selectableCount", 1)))
                if isinstance(poll, dict)
                else None
            ),
        )
        return await self._send(caller, actor, message, SendOptions(), media_path=doc.get("mediaPath"))

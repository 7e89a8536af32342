"""Use cases of messaging: send text, media by URL, uploaded files; mark a chat read.

Followed through the code, a send goes: route (parse) → `Messaging.send_*` (authorize, prepare
media) → `InstanceActor.execute(Send)` (idempotency, limits, pacing, the transport, `message_sent`)
→ the event store.
"""

from __future__ import annotations

from collections.abc import Callable

from wamux.core import commands as c
from wamux.core.instance_actor import InstanceActor
from wamux.core.ports import MediaFetch, MediaFiles, OutgoingMessage
from wamux.core.supervisor import Supervisor
from wamux.core.usecases.access import limited, owned
from wamux.domain.errors import InstanceNotConnected
from wamux.domain.media import kind_of
from wamux.domain.text import safe_file_name
from wamux.domain.users import User


class MessagingUseCases:
    def __init__(
        self,
        registry: Supervisor,
        media: MediaFiles,
        fetcher: MediaFetch,
        sniff: Callable[[bytes], str],
    ) -> None:
        self.registry = registry
        self.media = media
        self.fetcher = fetcher
        self.sniff = sniff

    async def _send(
        self,
        caller: User,
        actor: InstanceActor,
        message: OutgoingMessage,
        *,
        key: str | None,
        media_path: str | None = None,
    ) -> c.SendOutcome:
        return await actor.execute(
            c.Send(message, media_path=media_path, idempotency_key=key, enforce_limits=limited(caller))
        )

    async def send_text(self, caller: User, instance_id: str, to: str, text: str, *, key: str | None) -> c.SendOutcome:
        actor = owned(self.registry, caller, instance_id)
        return await self._send(caller, actor, OutgoingMessage(to=to, kind="text", text=text), key=key)

    async def send_url(
        self,
        caller: User,
        instance_id: str,
        to: str,
        url: str,
        *,
        caption: str | None,
        file_name: str | None,
        key: str | None,
    ) -> c.SendOutcome:
        """Download `url` under the outbound rule (admins may reach private addresses), then send it."""
        actor = owned(self.registry, caller, instance_id)
        if actor.status != "connected":  # fail fast, before downloading anything
            raise InstanceNotConnected(f"instance is not connected (status {actor.status})")
        fetched = await self.fetcher.fetch(url, file_name, trusted=caller.role == "admin")
        return await self._send_bytes(caller, actor, to, fetched.data, caption, fetched.file_name, key=key)

    async def send_upload(
        self,
        caller: User,
        instance_id: str,
        to: str,
        data: bytes,
        *,
        caption: str | None,
        file_name: str | None,
        key: str | None,
    ) -> c.SendOutcome:
        actor = owned(self.registry, caller, instance_id)
        return await self._send_bytes(caller, actor, to, data, caption, file_name, key=key)

    async def _send_bytes(
        self,
        caller: User,
        actor: InstanceActor,
        to: str,
        data: bytes,
        caption: str | None,
        file_name: str | None,
        *,
        key: str | None,
    ) -> c.SendOutcome:
        mime = self.sniff(data)
        kind = kind_of(mime)
        file_name = safe_file_name(file_name)  # it travels to WhatsApp and back out in Content-Disposition
        if kind == "document" and not file_name:
            file_name = "file"
        media_path = self.media.save(actor.id, data, mime, file_name)
        message = OutgoingMessage(to=to, kind=kind, caption=caption, data=data, mime_type=mime, file_name=file_name)
        return await self._send(caller, actor, message, key=key, media_path=media_path)

    async def mark_read(self, caller: User, instance_id: str, chat_jid: str) -> None:
        await owned(self.registry, caller, instance_id).execute(c.MarkChatRead(chat_jid))

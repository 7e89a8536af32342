"""What the wire reports, turned into domain events of the instance's stream.

Each `TransportEvent` of the port (`wamux.core.ports`) is handled under the actor's lock, so a
message that arrives while a command appends keeps the stream version exact.
"""

from __future__ import annotations

from wamux.core.actor_base import ActorBase
from wamux.core.ports import (
    ConnectionLost,
    ContactUpdate,
    IncomingMessage,
    LinkConnected,
    PairSuccess,
    QrCode,
    Receipt,
    TransportEvent,
)
from wamux.domain.events import Connected, ContactSaved, MessageReceived, MessageStatusChanged, QrReceived
from wamux.domain.phones import is_group, jid_number
from wamux.domain.text import safe_file_name


class InboundEvents(ActorBase):
    """Handles the transport's events for the actor."""

    async def _on_transport(self, event: TransportEvent) -> None:
        async with self._lock:
            await self._handle_transport(event)

    async def _handle_transport(self, event: TransportEvent) -> None:
        if isinstance(event, QrCode):
            if self.status == "connected":
                return
            self._qr_attempt += 1
            if self._qr_attempt > self.settings.qr_max_attempts:
                self._end_connection(ConnectionLost(reason="qr_timeout"))
                return
            await self._append(QrReceived(instance_id=self.id, qr_code=event.code, attempt=self._qr_attempt))
            self.qr_code = event.code
            self._set_status("qr")
        elif isinstance(event, PairSuccess):
            self.linked_jid = event.jid
        elif isinstance(event, LinkConnected):
            self.qr_code = None
            self._failures = 0
            jid = event.jid or self.linked_jid or self.instance.jid
            await self._append(Connected(instance_id=self.id, jid=jid, push_name=event.push_name))
            self._set_status("connected")
        elif isinstance(event, ConnectionLost):
            self._outcome = event
        elif isinstance(event, IncomingMessage):
            await self._append(self._received(event))
        elif isinstance(event, Receipt):
            await self._append(
                *(
                    MessageStatusChanged(
                        instance_id=self.id,
                        message_id=mid,
                        status=event.status,
                        chat_jid=event.chat_jid,
                        from_me=True,
                    )
                    for mid in event.message_ids
                )
            )
        elif isinstance(event, ContactUpdate):
            await self._append(
                ContactSaved(
                    instance_id=self.id,
                    jid=event.jid,
                    number=jid_number(event.jid),
                    name=event.name,
                    push_name=event.push_name,
                    is_group=is_group(event.jid),
                )
            )

    def _received(self, m: IncomingMessage) -> MessageReceived:
        media_path = None
        size = 0
        mime = m.mime_type
        file_name = m.file_name
        if m.media is not None:
            media_path = self.media.save(
                self.id, m.media.data, m.media.mime_type or mime, m.media.file_name or file_name
            )
            size = len(m.media.data)
            mime = m.media.mime_type or mime
            file_name = m.media.file_name or file_name
        file_name = safe_file_name(file_name)  # the sender chose it: no paths, controls or endless names
        return MessageReceived(
            instance_id=self.id,
            message_id=m.message_id,
            chat_jid=m.chat_jid,
            sender_jid=m.sender_jid,
            message_type=m.message_type,
            body=m.body,
            push_name=m.push_name,
            is_group=m.is_group,
            from_me=m.from_me,
            sent_at=m.timestamp,
            caption=m.caption,
            mime_type=mime,
            file_name=file_name,
            media_size=size,
            media_path=media_path,
            extra=dict(m.extra),
        )

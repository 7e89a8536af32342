"""The `AccountSession` half of `NeonizeSession`: groups, profiles, the blocklist, privacy, calls.

Each method runs one blocking function of `neonize_account` in a worker thread behind the
session's gate (`_act`), with neonize's errors turned into `TransportError` (retryable unless
WhatsApp refused). Answers that name people by LID and phone (group participants and owners)
also report those pairs as `IdentityIn`, through the connection's event pipe (`_push`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from wamux.adapters.whatsapp import neonize_account as account
from wamux.adapters.whatsapp import neonize_groups as groups
from wamux.core.ports import GroupInfo, ParticipantResult, Profile, TransportEvent

if TYPE_CHECKING:
    from neonize.client import NewClient

T = TypeVar("T")


class NeonizeAccountCalls:
    """Mixed into `NeonizeSession`, which provides `_act` (a neonize call behind the gate) and `_push`."""

    async def _act(self, failure: str, code: str, action: Callable[[NewClient], T]) -> T:
        raise NotImplementedError

    def _push(self, event: TransportEvent) -> None:
        raise NotImplementedError

    async def _ask(self, failure: str, code: str, action: Callable[[NewClient], T]) -> T:
        return await self._act(failure, code, account.guarded(failure, code, action))

    def _groups(self, protos: Sequence[Any]) -> list[GroupInfo]:
        """Map `GroupInfo` protobufs, reporting the LID ⇄ phone pairs they carry."""
        for proto in protos:
            for identity in groups.group_identities(proto):
                self._push(identity)
        return [groups.group_info(proto) for proto in protos]

    # ---- groups ---------------------------------------------------------------------------------

    async def joined_groups(self) -> list[GroupInfo]:
        return self._groups(await self._ask("could not read the groups", "group_failed", account.joined_groups))

    async def group_info(self, group_jid: str) -> GroupInfo | None:
        proto = await self._ask("could not read the group", "group_failed", lambda c: account.group_info(c, group_jid))
        return None if proto is None else self._groups([proto])[0]

    async def create_group(self, subject: str, participants: Sequence[str]) -> GroupInfo:
        members = list(participants)
        proto = await self._ask(
            "could not create the group", "group_failed", lambda c: account.create_group(c, subject, members)
        )
        return self._groups([proto])[0]

    async def update_group(
        self,
        group_jid: str,
        *,
        subject: str | None = None,
        description: str | None = None,
        announce: bool | None = None,
        locked: bool | None = None,
    ) -> None:
        await self._ask(
            "could not change the group",
            "group_failed",
            lambda c: account.update_group(
                c, group_jid, subject=subject, description=description, announce=announce, locked=locked
            ),
        )

    async def set_group_picture(self, group_jid: str, jpeg: bytes) -> None:
        await self._ask(
            "could not set the group picture", "group_failed", lambda c: account.set_group_picture(c, group_jid, jpeg)
        )

    async def update_participants(
        self, group_jid: str, action: str, participants: Sequence[str]
    ) -> list[ParticipantResult]:
        asked = list(participants)
        return await self._ask(
            "could not change the participants",
            "group_failed",
            lambda c: account.update_participants(c, group_jid, action, asked),
        )

    async def group_invite(self, group_jid: str, *, revoke: bool = False) -> str:
        return await self._ask("no invite link", "group_failed", lambda c: account.group_invite(c, group_jid, revoke))

    async def join_group(self, code: str) -> str:
        return await self._ask("could not join the group", "group_failed", lambda c: account.join_group(c, code))

    async def leave_group(self, group_jid: str) -> None:
        await self._ask("could not leave the group", "group_failed", lambda c: account.leave_group(c, group_jid))

    # ---- people ---------------------------------------------------------------------------------

    async def profile(self, jid: str) -> Profile | None:
        return await self._ask("could not read the profile", "profile_failed", lambda c: account.profile(c, jid))

    async def own_profile(self) -> Profile:
        return await self._ask("could not read our profile", "profile_failed", account.own_profile)

    async def set_profile(self, *, name: str | None = None, about: str | None = None) -> None:
        await self._ask("could not change our profile", "profile_failed", lambda c: account.set_profile(c, name, about))

    async def set_profile_picture(self, jpeg: bytes) -> None:
        await self._ask("could not set our picture", "profile_failed", lambda c: account.set_profile_picture(c, jpeg))

    async def set_blocked(self, jid: str, blocked: bool) -> None:
        await self._ask(
            "could not change the blocklist", "blocklist_failed", lambda c: account.set_blocked(c, jid, blocked)
        )

    async def blocklist(self) -> list[str]:
        return await self._ask("could not read the blocklist", "blocklist_failed", account.blocklist)

    async def privacy(self) -> Mapping[str, str]:
        return await self._ask("could not read the privacy settings", "privacy_failed", account.privacy)

    async def set_privacy(self, name: str, value: str) -> None:
        await self._ask(
            "could not change a privacy setting", "privacy_failed", lambda c: account.set_privacy(c, name, value)
        )

    # ---- calls ----------------------------------------------------------------------------------

    async def reject_call(self, call_id: str, caller: str) -> None:
        await self._ask("could not reject the call", "call_failed", lambda c: account.reject_call(c, call_id, caller))

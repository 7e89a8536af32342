"""The actor's account commands (API-2 §4, §5): groups, profiles, blocklist, privacy, own presence.

Each one asks WhatsApp (with the send timeout) and records what changed: a group created, joined,
updated or left, participants changed, the list of groups read again, a LID ⇄ phone pair learned.
Reads that change nothing (a profile, the blocklist, privacy) record nothing.
"""

from __future__ import annotations

from typing import Any

from wamux.core import commands as c
from wamux.core.actor_base import ActorBase
from wamux.core.ports import (
    CallIn,
    GroupInfo,
    GroupJoinedIn,
    GroupParticipantsIn,
    GroupUpdatedIn,
    IdentityIn,
    OutgoingMessage,
    ParticipantResult,
    Profile,
)
from wamux.domain.errors import DomainError
from wamux.domain.events import (
    CallReceived,
    GroupJoined,
    GroupParticipantsChanged,
    GroupsSynced,
    GroupUpdated,
    IdentityLearned,
    MessageSent,
)
from wamux.logs import get_logger

log = get_logger("wamux.actor")


def joined(instance_id: str, group: GroupInfo, by: str | None) -> GroupJoined:
    f = group_fields(group)
    return GroupJoined(
        instance_id=instance_id,
        group_id=group.jid,
        subject=group.subject,
        by=by,
        description=group.description,
        owner=group.owner,
        announce=group.announce,
        locked=group.locked,
        created_at=group.created_at,
        participants=f["participants"],
    )


def _summary(groups: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    """What a connect compares: each group's id, subject, member count and switches (event fields or read rows)."""
    out = set()
    for g in groups:
        count = g.get("participantsCount", len(g.get("participants") or ()))
        out.add(
            (g.get("group_id") or g.get("id"), g.get("subject"), count, bool(g.get("announce")), bool(g.get("locked")))
        )
    return out


def group_fields(group: GroupInfo) -> dict[str, Any]:
    """A group as the group events carry it (camelCase participants, as payloads show them)."""
    return {
        "group_id": group.jid,
        "subject": group.subject,
        "description": group.description,
        "owner": group.owner,
        "announce": group.announce,
        "locked": group.locked,
        "created_at": group.created_at,
        "participants": [
            {"jid": p.jid, "lid": p.lid, "isAdmin": p.is_admin, "isSuperAdmin": p.is_super_admin}
            for p in group.participants
        ],
    }


class AccountHandlers(ActorBase):
    """Groups and people commands of the instance actor (registered in `InstanceActor.HANDLERS`)."""

    @property
    def own_jid(self) -> str:
        return self.instance.jid or self.linked_jid or ""

    def _groups_changed(self) -> None:
        """A group event is being recorded: what a connect compares with is no longer this process's last list."""
        self._groups_synced = None
        self._group_changes += 1

    @property
    def own_jids(self) -> tuple[str, ...]:
        """Every JID WhatsApp may name us by: the phone JID and the LIDs learned for it."""
        phones = {j for j in (self.instance.jid, self.linked_jid) if j}
        lids = [lid for lid, phone in self._identities.items() if phone in phones]
        return (*sorted(phones), *lids)

    async def _sync_groups(self, _cmd: c.SyncGroups | None = None) -> list[GroupInfo]:
        self._connected()
        groups = await self._on_wire(self.session.joined_groups(), "group list")
        self._group_changes += 1
        self._groups_synced = [group_fields(g) for g in groups]
        async with self._lock:
            await self._append(
                GroupsSynced(
                    instance_id=self.id,
                    groups=[group_fields(g) for g in groups],
                )
            )
        return groups

    async def _fetch_group(self, cmd: c.FetchGroup) -> GroupInfo | None:
        self._connected()
        return await self._on_wire(self.session.group_info(cmd.group_jid), "group info")

    async def _create_group(self, cmd: c.CreateGroup) -> GroupInfo:
        self._connected()
        self._groups_changed()
        group = await self._on_wire(self.session.create_group(cmd.subject, list(cmd.participants)), "new group")
        async with self._lock:
            await self._append(joined(self.id, group, self.own_jid))
        return group

    async def _update_group(self, cmd: c.UpdateGroup) -> None:
        self._connected()
        self._groups_changed()
        await self._on_wire(
            self.session.update_group(
                cmd.group_jid,
                subject=cmd.subject,
                description=cmd.description,
                announce=cmd.announce,
                locked=cmd.locked,
            ),
            "group change",
        )
        async with self._lock:
            await self._append(
                GroupUpdated(
                    instance_id=self.id,
                    group_id=cmd.group_jid,
                    subject=cmd.subject,
                    description=cmd.description,
                    announce=cmd.announce,
                    locked=cmd.locked,
                    by=self.own_jid,
                )
            )

    async def _set_group_picture(self, cmd: c.SetGroupPicture) -> None:
        self._connected()
        await self._on_wire(self.session.set_group_picture(cmd.group_jid, cmd.jpeg), "group picture")

    async def _update_participants(self, cmd: c.UpdateParticipants) -> list[ParticipantResult]:
        """WhatsApp answers per participant; only those it accepted are recorded."""
        self._connected()
        self._groups_changed()
        results = await self._on_wire(
            self.session.update_participants(cmd.group_jid, cmd.action, list(cmd.participants)), "participants change"
        )
        accepted = [r.jid for r in results if r.status == "ok"]
        if accepted:
            async with self._lock:
                await self._append(
                    GroupParticipantsChanged(
                        instance_id=self.id,
                        group_id=cmd.group_jid,
                        action=cmd.action,
                        participants=accepted,
                        by=self.own_jid,
                    )
                )
        return results

    async def _group_invite(self, cmd: c.GroupInvite) -> str:
        self._connected()
        return await self._on_wire(self.session.group_invite(cmd.group_jid, revoke=cmd.revoke), "invite link")

    async def _join_group(self, cmd: c.JoinGroup) -> str:
        self._connected()
        self._groups_changed()
        group_jid = await self._on_wire(self.session.join_group(cmd.code), "join")
        group = await self._on_wire(self.session.group_info(group_jid), "group info")
        if group is not None:
            async with self._lock:
                await self._append(joined(self.id, group, self.own_jid))
        return group_jid

    async def _leave_group(self, cmd: c.LeaveGroup) -> None:
        self._connected()
        self._groups_changed()
        await self._on_wire(self.session.leave_group(cmd.group_jid), "leave")
        async with self._lock:
            await self._append(
                GroupParticipantsChanged(
                    instance_id=self.id,
                    group_id=cmd.group_jid,
                    action="remove",
                    participants=[self.own_jid],
                    by=self.own_jid,
                )
            )

    # ---- what the wire reports --------------------------------------------------------------

    async def _after_connected(self) -> None:
        """Once connected: show the account online (`settings.alwaysOnline`), then read the groups.

        Both quietly: a failure is logged, and leaves the read model as it was. A group event recorded
        while the list was being read wins: the list is then stale, and dropped.
        """
        if self.instance.settings.get("alwaysOnline"):
            try:
                await self._on_wire(self.session.send_presence("available"), "presence")
            except DomainError as exc:
                log.warning("could not show the account online after connecting", instance_id=self.id, error=str(exc))
        changes_before = self._group_changes
        try:
            groups = await self._on_wire(self.session.joined_groups(), "group list")
            fields = [group_fields(g) for g in groups]
            known = self._groups_synced
            if known is None and self.deps.groups is not None:
                known = await self.deps.groups.groups(self.id)  # first connect of this process: what is recorded
        except Exception as exc:
            log.warning("could not read the groups after connecting", instance_id=self.id, error=repr(exc))
            return
        async with self._lock:
            if self._group_changes != changes_before:
                return  # something changed meanwhile: the next connect (or ?refresh=true) reads again
            self._groups_synced = fields
            if _summary(fields) == _summary(known or []):
                return  # nothing changed (an account without groups records nothing)
            await self._append(GroupsSynced(instance_id=self.id, groups=fields))

    async def _on_account_event(self, event: object) -> bool:
        """Group, call and identity events from the wire (called under the actor's lock)."""
        if isinstance(event, GroupJoinedIn | GroupUpdatedIn | GroupParticipantsIn):
            self._groups_changed()
        if isinstance(event, GroupJoinedIn):
            await self._append(joined(self.id, event.group, event.by))
        elif isinstance(event, GroupUpdatedIn):
            await self._append(
                GroupUpdated(
                    instance_id=self.id,
                    group_id=event.group_jid,
                    subject=event.subject,
                    description=event.description,
                    announce=event.announce,
                    locked=event.locked,
                    by=event.by,
                )
            )
        elif isinstance(event, GroupParticipantsIn):
            await self._append(
                GroupParticipantsChanged(
                    instance_id=self.id,
                    group_id=event.group_jid,
                    action=event.action,
                    participants=list(event.participants),
                    by=event.by,
                )
            )
        elif isinstance(event, IdentityIn):
            if self._identities.get(event.lid) != event.phone_jid:
                self._identities[event.lid] = event.phone_jid
                await self._append(IdentityLearned(instance_id=self.id, lid=event.lid, phone_jid=event.phone_jid))
        elif isinstance(event, CallIn):
            await self._call_received(event)
        else:
            return False
        return True

    async def _call_received(self, call: CallIn) -> None:
        """Every call is recorded; with `settings.rejectCalls` it is rejected, and the caller gets the reply text."""
        settings = self.instance.settings
        rejected, reply_id = False, None
        # The wire JID stays for `reject_call` and the reply; the event names the caller by phone when known.
        caller, caller_lid = await self._people.resolve(call.from_jid)
        if settings.get("rejectCalls"):
            try:
                await self._on_wire(self.session.reject_call(call.call_id, call.from_jid), "call rejection")
                rejected = True
            except DomainError as exc:
                log.warning("could not reject a call", instance_id=self.id, error=str(exc))
            text = settings.get("rejectCallMessage")
            if rejected and text and not call.is_group:
                reply = OutgoingMessage(to=call.from_jid, kind="text", text=str(text))
                try:
                    reply_id = await self._on_wire(self.session.send(reply), "call reply")
                except DomainError as exc:
                    log.warning("could not answer a rejected call", instance_id=self.id, error=str(exc))
                else:
                    await self._append(
                        MessageSent(
                            instance_id=self.id,
                            message_id=reply_id,
                            to=caller,
                            message_type="text",
                            body=str(text),
                            to_lid=caller_lid,
                        )
                    )
        await self._append(
            CallReceived(
                instance_id=self.id,
                call_id=call.call_id,
                from_jid=caller,
                from_lid=caller_lid,
                is_video=call.is_video,
                is_group=call.is_group,
                rejected=rejected,
                reply_message_id=reply_id,
            )
        )

    # ---- people ------------------------------------------------------------------------------

    async def _learn(self, lid: str | None, phone_jid: str | None) -> None:
        """Record a LID ⇄ phone pair once per process (the identities read model keeps them)."""
        if not lid or not phone_jid or not lid.endswith("@lid") or not phone_jid.endswith("@s.whatsapp.net"):
            return
        if self._identities.get(lid) == phone_jid:
            return
        self._identities[lid] = phone_jid
        async with self._lock:
            await self._append(IdentityLearned(instance_id=self.id, lid=lid, phone_jid=phone_jid))

    async def _fetch_profile(self, cmd: c.FetchProfile) -> Profile | None:
        self._connected()
        profile = await self._on_wire(self.session.profile(cmd.jid), "profile")
        if profile is not None:
            await self._learn(profile.lid, profile.jid)
        return profile

    async def _fetch_own_profile(self, _cmd: c.FetchOwnProfile) -> Profile:
        self._connected()
        return await self._on_wire(self.session.own_profile(), "profile")

    async def _set_profile(self, cmd: c.SetProfile) -> None:
        self._connected()
        await self._on_wire(self.session.set_profile(name=cmd.name, about=cmd.about), "profile change")

    async def _set_profile_picture(self, cmd: c.SetProfilePicture) -> None:
        self._connected()
        await self._on_wire(self.session.set_profile_picture(cmd.jpeg), "profile picture")

    async def _set_blocked(self, cmd: c.SetBlocked) -> None:
        self._connected()
        await self._on_wire(self.session.set_blocked(cmd.jid, cmd.blocked), "blocklist change")

    async def _fetch_blocklist(self, _cmd: c.FetchBlocklist) -> list[str]:
        self._connected()
        return await self._on_wire(self.session.blocklist(), "blocklist")

    async def _fetch_privacy(self, _cmd: c.FetchPrivacy) -> dict[str, str]:
        self._connected()
        return dict(await self._on_wire(self.session.privacy(), "privacy settings"))

    async def _set_privacy(self, cmd: c.SetPrivacy) -> None:
        self._connected()
        await self._on_wire(self.session.set_privacy(cmd.name, cmd.value), "privacy change")

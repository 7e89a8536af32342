"""What a neonize session asks of WhatsApp for the account (API-2 §4, §5): groups, profiles, the
blocklist, privacy, calls.

Blocking functions over a connected neonize client; `NeonizeAccountCalls` runs each in a worker
thread behind the session's gate. neonize's errors become `TransportError` here (`refusals`):
retryable when the network failed, not when WhatsApp refused (an IQ status 4xx, an invalid or
revoked invite, a group we are not in, ...).

From neonize 0.5.2's `client.py`:
- `set_group_topic(jid, previous_id, new_id, topic)`: empty ids let whatsmeow look up the current
  topic id and make a new one.
- `get_group_invite_link` answers the whole link; the port deals in codes.
- `set_profile_name` exists (it sets the push name through an app-state patch).
- `get_user_info` answers no LID in 0.5.2's protobuf: the LID comes from whatsmeow's store
  (`get_lid_from_pn` / `get_pn_from_lid`).
- `set_privacy_setting` sends `value.value`; neonize's `PrivacySetting.CONTACTS_BLACKLIST` is
  `"contacts_blacklist"`, but whatsmeow (and WhatsApp) spell it `"contact_blacklist"`, so that value
  is sent as the wire string itself (`_WireValue`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from wamux.adapters.whatsapp import neonize_groups as groups
from wamux.adapters.whatsapp.neonize_identities import is_set
from wamux.adapters.whatsapp.neonize_jids import LID_SERVER, USER_SERVER, jid_from_string, jid_to_string
from wamux.core.ports import GROUP_ACTIONS, PRIVACY_SETTINGS, ParticipantResult, Profile, TransportError

if TYPE_CHECKING:
    from neonize.client import NewClient

T = TypeVar("T")

INVITE_PREFIX = "https://chat.whatsapp.com/"
# Our names of WhatsApp's privacy settings → whatsmeow's (`PrivacySettingType` values, and the
# `PrivacySettings` protobuf field each one is read from). "about" is what whatsmeow calls "status".
PRIVACY_NAMES: dict[str, tuple[str, str]] = {
    "lastSeen": ("last", "LastSeen"),
    "online": ("online", "Online"),
    "profilePhoto": ("profile", "Profile"),
    "about": ("status", "Status"),
    "groupAdd": ("groupadd", "GroupAdd"),
    "readReceipts": ("readreceipts", "ReadReceipts"),
}
assert tuple(PRIVACY_NAMES) == PRIVACY_SETTINGS
# The values, as whatsmeow sends them and as the `PrivacySettings` protobuf enum names them.
PRIVACY_VALUES: dict[str, str] = {
    "all": "ALL",
    "contacts": "CONTACTS",
    "contact_blacklist": "CONTACT_BLACKLIST",
    "match_last_seen": "MATCH_LAST_SEEN",
    "known": "KNOWN",
    "none": "NONE",
}

# WhatsApp refused (nothing changes on a retry) rather than the connection failing.
_REFUSED = re.compile(
    r"status 4(0[0-7]|09|1\d|2\d)\b|not.?authori[sz]ed|forbidden|not.?found|not participating|revoked|"
    r"not valid|invalid|already|pending approval|conflict|not.?acceptable|bad.?request|does not have",
    re.IGNORECASE,
)
_NOT_A_MEMBER = re.compile(r"group not found|not participating|status 40[34]\b|item-not-found|forbidden", re.I)
# Group refusals the caller can act on, in whatsmeow's words (checked in this order: an invalid invite
# link is answered with 401 too): no such group / not a member / dead invite → `not_found`;
# not an admin → `not_authorized`. The actor answers them 404 and 403 `not_group_admin`.
_GROUP_REFUSALS = (
    ("not_found", re.compile(r"invite link (is not valid|has been revoked)|status 4(06|10)\b|gone\b", re.I)),
    ("not_found", _NOT_A_MEMBER),
    ("not_authorized", re.compile(r"status 401\b|not.?authori[sz]ed|unauthori[sz]ed", re.I)),
)
GROUP_FAILED = "group_failed"


def refusal_code(text: str, code: str) -> str:
    """The code of a refusal: for a group failure, `not_found` or `not_authorized` when the words say so."""
    if code == GROUP_FAILED:
        for meaning, words in _GROUP_REFUSALS:
            if words.search(text):
                return meaning
    return code


def _invalid(message: str) -> TransportError:
    return TransportError(message, retryable=False, code="invalid_request")


@contextmanager
def refusals(failure: str, code: str) -> Iterator[None]:
    """neonize's errors → `TransportError`, retryable unless WhatsApp refused."""
    from neonize.exc import NeonizeError

    try:
        yield
    except NeonizeError as exc:
        text = str(exc) or type(exc).__name__
        refused = bool(_REFUSED.search(text))
        raise TransportError(
            f"{failure}: {text}", retryable=not refused, code=refusal_code(text, code) if refused else code
        ) from exc


def guarded(failure: str, code: str, action: Callable[[NewClient], T]) -> Callable[[NewClient], T]:
    """`action` with its neonize errors turned into `TransportError` (see `refusals`)."""

    def run(client: NewClient) -> T:
        with refusals(failure, code):
            return action(client)

    return run


def invite_code(link: str) -> str:
    """The code of `https://chat.whatsapp.com/<code>` (a bare code as it is)."""
    text = link.strip()
    return text[len(INVITE_PREFIX) :] if text.startswith(INVITE_PREFIX) else text.rsplit("/", 1)[-1]


# ---- groups -------------------------------------------------------------------------------------


def joined_groups(client: NewClient) -> list[Any]:
    """`get_joined_groups`: the `GroupInfo` protobufs of every group we are in."""
    return list(client.get_joined_groups())


def group_info(client: NewClient, group_jid: str) -> Any | None:
    """`get_group_info`; None when we are not a member or there is no such group."""
    from neonize.exc import GetGroupInfoError

    try:
        return client.get_group_info(jid_from_string(group_jid))
    except GetGroupInfoError as exc:
        if _NOT_A_MEMBER.search(str(exc)):
            return None
        raise


def create_group(client: NewClient, subject: str, participants: Sequence[str]) -> Any:
    """`create_group`: the new group's `GroupInfo` protobuf."""
    return client.create_group(subject, [jid_from_string(p) for p in participants])


def update_group(
    client: NewClient,
    group_jid: str,
    *,
    subject: str | None,
    description: str | None,
    announce: bool | None,
    locked: bool | None,
) -> None:
    """One whatsmeow call per field that changes."""
    group = jid_from_string(group_jid)
    if subject is not None:
        client.set_group_name(group, subject)
    if description is not None:
        client.set_group_topic(group, "", "", description)
    if announce is not None:
        client.set_group_announce(group, announce)
    if locked is not None:
        client.set_group_locked(group, locked)


def set_group_picture(client: NewClient, group_jid: str, jpeg: bytes) -> None:
    if not jpeg:
        raise _invalid("a group picture needs image data")
    client.set_group_photo(jid_from_string(group_jid), bytes(jpeg))  # bytes: a str would be read as a path


def update_participants(
    client: NewClient, group_jid: str, action: str, participants: Sequence[str]
) -> list[ParticipantResult]:
    """`update_group_participants`, answered per participant in the order asked."""
    from neonize.utils.enum import ParticipantChange

    if action not in GROUP_ACTIONS:
        raise _invalid(f"unknown participant action {action!r}")
    if not participants:
        return []
    asked = [jid_from_string(p) for p in participants]
    answers = client.update_group_participants(jid_from_string(group_jid), asked, ParticipantChange(action))
    by_user: dict[str, Any] = {}
    for answer in answers:
        for field in ("JID", "PhoneNumber", "LID"):
            if answer.HasField(field) and is_set(getattr(answer, field)):
                by_user.setdefault(getattr(answer, field).User, answer)
    results: list[ParticipantResult] = []
    for original, jid in zip(participants, asked, strict=True):
        answer = by_user.get(jid.User)
        status = "not_found" if answer is None else groups.participant_status(answer.Error)
        results.append(ParticipantResult(jid=original, status=status))
    return results


def group_invite(client: NewClient, group_jid: str, revoke: bool) -> str:
    """`get_group_invite_link` (a new one with `revoke`); the code of the link."""
    code = invite_code(client.get_group_invite_link(jid_from_string(group_jid), revoke=revoke))
    if not code:
        raise TransportError("WhatsApp answered no invite link", retryable=False, code="group_failed")
    return code


def join_group(client: NewClient, code: str) -> str:
    """`join_group_with_link`; the group's JID."""
    group = client.join_group_with_link(invite_code(code))
    if not is_set(group):
        raise TransportError("WhatsApp named no group for this invite", retryable=False, code="group_failed")
    return jid_to_string(group)


def leave_group(client: NewClient, group_jid: str) -> None:
    client.leave_group(jid_from_string(group_jid))


# ---- people -------------------------------------------------------------------------------------


def profile(client: NewClient, jid: str) -> Profile | None:
    """`get_user_info` + `get_profile_picture` (+ the address book); None when the number is not on WhatsApp.

    `jid` is the phone JID when it is known (asked by phone, or the LID's phone in whatsmeow's
    store), else the LID; `lid` is the LID when known.
    """
    target = jid_from_string(jid)
    phone: str | None
    if target.Server == USER_SERVER:
        if not any(answer.IsIn for answer in client.is_on_whatsapp(f"+{target.User}")):
            return None
        phone, lid = jid_to_string(target), _other(client, target)
    elif target.Server == LID_SERVER:
        phone, lid = _other(client, target), jid_to_string(target)
    else:
        raise _invalid(f"not a person's JID: {jid!r}")
    info = next((found.UserInfo for found in client.get_user_info(target) if found.JID.User == target.User), None)
    if info is None:
        return None
    verified = info.VerifiedName.Details.verifiedName if info.HasField("VerifiedName") else ""
    certified = info.HasField("VerifiedName") and info.VerifiedName.HasField("Certificate")
    known = _address_book(client, target)
    return Profile(
        jid=phone or jid_to_string(target),
        lid=lid,
        name=verified or _book_name(known),
        push_name=(known.PushName or None) if known is not None else None,
        about=info.Status or None,
        picture_url=picture_url(client, target),
        is_business=bool(verified) or certified,
    )


def own_profile(client: NewClient) -> Profile:
    """`get_me` (our JID, LID and push name), the about text from `get_user_info` of ourselves, our picture."""
    me = client.get_me()
    own = jid_from_string(jid_to_string(me.JID))
    about = None
    for info in client.get_user_info(own):
        if info.JID.User == own.User:
            about = info.UserInfo.Status or None
    lid = jid_to_string(me.LID) if me.HasField("LID") and is_set(me.LID) else None
    return Profile(
        jid=jid_to_string(own),
        lid=lid,
        name=me.PushName or None,
        push_name=me.PushName or None,
        about=about,
        picture_url=picture_url(client, own),
    )


def picture_url(client: NewClient, jid: Any) -> str | None:
    """The full-size picture's URL; None when there is none or we may not see it."""
    from neonize.exc import NeonizeError

    try:
        picture = client.get_profile_picture(jid)
    except NeonizeError:  # not set, hidden by privacy settings
        return None
    return picture.URL or None


def set_profile(client: NewClient, name: str | None, about: str | None) -> None:
    """`set_profile_name` (the push name) and `set_status_message` (the about text)."""
    if name is not None:
        client.set_profile_name(name)
    if about is not None:
        client.set_status_message(about)


def set_profile_picture(client: NewClient, jpeg: bytes) -> None:
    if not jpeg:
        raise _invalid("a profile picture needs image data")
    client.set_profile_photo(bytes(jpeg))


def set_blocked(client: NewClient, jid: str, blocked: bool) -> None:
    from neonize.utils.enum import BlocklistAction

    client.update_blocklist(jid_from_string(jid), BlocklistAction.BLOCK if blocked else BlocklistAction.UNBLOCK)


def blocklist(client: NewClient) -> list[str]:
    return [jid_to_string(jid) for jid in client.get_blocklist().JIDs if is_set(jid)]


def privacy(client: NewClient) -> dict[str, str]:
    """`get_privacy_settings` under our names; settings WhatsApp left undefined are left out."""
    from neonize.proto.Neonize_pb2 import PrivacySettings

    settings = client.get_privacy_settings()
    names = {enum_name: value for value, enum_name in PRIVACY_VALUES.items()}
    answer: dict[str, str] = {}
    for ours, (_wire, field) in PRIVACY_NAMES.items():
        if not settings.HasField(field):
            continue
        value = names.get(PrivacySettings.PrivacySetting.Name(getattr(settings, field)))
        if value is not None:
            answer[ours] = value
    return answer


@dataclass(frozen=True)
class _WireValue:
    """A privacy value as `set_privacy_setting` reads it (`.value`), for one neonize's enum misspells."""

    value: str


def privacy_arguments(name: str, value: str) -> tuple[Any, Any]:
    """`set_privacy_setting`'s (PrivacySettingType, PrivacySetting) for one of our settings and values."""
    from neonize.utils.enum import PrivacySetting, PrivacySettingType

    if name not in PRIVACY_NAMES:
        raise _invalid(f"unknown privacy setting {name!r}")
    if value not in PRIVACY_VALUES:
        raise _invalid(f"unknown privacy value {value!r}")
    setting = PrivacySettingType(PRIVACY_NAMES[name][0])
    known = {member.value: member for member in PrivacySetting}
    return setting, known.get(value, _WireValue(value))


def set_privacy(client: NewClient, name: str, value: str) -> None:
    setting, chosen = privacy_arguments(name, value)
    client.set_privacy_setting(setting, chosen)


def reject_call(client: NewClient, call_id: str, caller: str) -> None:
    """`reject_call`, naming the caller as the offer did."""
    client.reject_call(jid_from_string(caller), call_id)


# ---- helpers ------------------------------------------------------------------------------------


def _other(client: NewClient, jid: Any) -> str | None:
    """The other address whatsmeow's store knows for a person: the LID of a phone JID, or the reverse."""
    from neonize.exc import NeonizeError

    lookup = client.get_lid_from_pn if jid.Server == USER_SERVER else client.get_pn_from_lid
    try:
        other = lookup(jid)
    except NeonizeError:
        return None
    return jid_to_string(other) if is_set(other) else None


def _address_book(client: NewClient, jid: Any) -> Any | None:
    """What the address book (whatsmeow's contact store) knows of `jid`, or None."""
    from neonize.exc import NeonizeError

    try:
        known = client.contact.get_contact(jid)
    except NeonizeError:
        return None
    return known if known.Found else None


def _book_name(known: Any | None) -> str | None:
    """The name our address book gives a contact (its full, business or first name)."""
    if known is None:
        return None
    return str(known.FullName or known.BusinessName or known.FirstName) or None

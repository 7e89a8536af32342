"""What later happens to a message of history, folded into its row: reactions, an edit, a revoke, poll votes.

Pure functions over a messages read-model row (`wamux.projections.messages`): a reaction is one per
sender (the latest wins; ours, from any device, are one sender), an edit replaces the body, a revoke
takes the body, media and content away, and each voter's current selection counts towards `poll.votes`.
"""

from __future__ import annotations

from typing import Any

from wamux.domain.events import MessageEdited, MessageReaction, MessageRevoked, PollVoted

# What an event that refers to an earlier message changes in its row.
Change = MessageReaction | MessageEdited | MessageRevoked | PollVoted


def rich_defaults() -> dict[str, Any]:
    """The fields of the richer kinds, as a plain message (and a row built before they existed) shows them."""
    return {
        "quotedMessageId": None,
        "mentions": [],
        "forwarded": False,
        "ptt": False,
        "location": None,
        "contacts": [],
        "poll": None,
        "reactions": [],
        "edited": False,
        "editedAt": None,
        "revoked": False,
        "revokedAt": None,
    }


def person(jid: str) -> str:
    """A JID without its device part (`7900:12@s.whatsapp.net` -> `7900@s.whatsapp.net`): one sender, any device."""
    user, at, server = jid.partition("@")
    return user.split(":", 1)[0] + at + server


def poll_view(poll: dict[str, Any] | None, voters: dict[str, list[str]]) -> dict[str, Any] | None:
    """The poll as history shows it: question, options, selectableCount and `votes: {option: count}`."""
    if poll is None:
        return None
    options = [str(o) for o in poll.get("options") or []]
    votes = dict.fromkeys(options, 0)
    for selection in voters.values():
        for option in selection:
            if option in votes:
                votes[option] += 1
    return {
        **{k: v for k, v in poll.items() if k != "votes"},
        "options": options,
        "selectableCount": int(poll["selectableCount"]) if poll.get("selectableCount") is not None else 1,
        "votes": votes,
    }


def fold_change(row: dict[str, Any], e: Change, at: str) -> bool:
    """Fold a reaction, edit, revoke or vote into the message's row; False when nothing changed."""
    for name, value in rich_defaults().items():
        row.setdefault(name, value)  # a row built before these fields existed
    if isinstance(e, MessageReaction):
        return _react(row, e)
    if isinstance(e, MessageEdited):
        row["content"] = e.body
        if row.get("messageType") != "text" and row.get("caption") is not None:
            row["caption"] = e.body  # an edited media caption
        row["edited"] = True
        row["editedAt"] = at
        return True
    if isinstance(e, MessageRevoked):
        revoke_row(row, at)
        return True
    return _vote(row, e)


def _react(row: dict[str, Any], e: MessageReaction) -> bool:
    """One reaction per sender (ours: every reaction we make, from any device); `""` removes it.

    A sender is the same under their phone JID and their LID (`fromLid`), whichever named them.
    """
    who = {person(e.sender_jid), e.from_lid} - {None}
    reactions: list[dict[str, Any]] = list(row.get("reactions") or [])

    def same_sender(r: dict[str, Any]) -> bool:
        if e.from_me or r.get("fromMe"):
            return bool(r.get("fromMe")) and e.from_me
        return bool(who & ({person(str(r.get("from"))), r.get("fromLid")} - {None}))

    same = next((i for i, r in enumerate(reactions) if same_sender(r)), None)
    if not e.emoji:
        if same is None:
            return False
        del reactions[same]
    else:
        entry = {"from": e.sender_jid, "fromLid": e.from_lid, "emoji": e.emoji, "fromMe": e.from_me}
        if same is None:
            reactions.append(entry)
        else:
            reactions[same] = entry
    row["reactions"] = reactions
    return True


def _vote(row: dict[str, Any], e: PollVoted) -> bool:
    """The voter's whole current selection replaces the one before; `votes` is counted again."""
    poll = row.get("poll")
    if not poll:
        return False  # a vote on something that is not a poll
    voter = person(e.sender_jid) or ("me" if e.from_me else "")
    voters: dict[str, list[str]] = dict(row.get("pollVoters") or {})
    selected = [o for o in dict.fromkeys(e.selected_options) if o in poll.get("options", [])]
    if selected:
        voters[voter] = selected
    elif voters.pop(voter, None) is None:
        return False
    row["pollVoters"] = voters
    row["poll"] = poll_view(poll, voters)
    return True


def revoke_row(row: dict[str, Any], at: str | None) -> None:
    """Deleted for everyone: the body, media and content of the message are no longer served."""
    row.update(
        revoked=True,
        revokedAt=at,
        content=None,
        caption=None,
        hasMedia=False,
        mediaUrl=None,
        mediaPath=None,
        mimeType=None,
        fileName=None,
        mediaSize=0,
        location=None,
        contacts=[],
        poll=None,
        pollVoters={},
        mentions=[],
        reactions=[],
    )


def carry_over(earlier: dict[str, Any], doc: dict[str, Any]) -> None:
    """The same message recorded again keeps what already happened to it (reactions, votes, an edit, a revoke)."""
    if earlier.get("revoked"):
        revoke_row(doc, earlier.get("revokedAt"))
        return
    doc["reactions"] = list(earlier.get("reactions") or [])
    if earlier.get("edited"):
        doc.update(content=earlier.get("content"), edited=True, editedAt=earlier.get("editedAt"))
    voters = earlier.get("pollVoters") or {}
    if doc.get("poll") and voters:
        doc["pollVoters"] = dict(voters)
        doc["poll"] = poll_view(doc["poll"], doc["pollVoters"])

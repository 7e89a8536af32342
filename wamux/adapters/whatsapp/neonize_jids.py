"""JIDs and timestamps between neonize's protobufs and the port's plain strings.

neonize is imported inside the functions: importing any part of it loads the Go library and
reconfigures logging (~0.5 s), and `import wamux.adapters.whatsapp.neonize_transport` must stay cheap.
"""

from __future__ import annotations

from typing import Any

USER_SERVER = "s.whatsapp.net"
GROUP_SERVER = "g.us"
LID_SERVER = "lid"

# Timestamps above this are milliseconds (as seconds it would be the year 5138).
_MILLISECONDS_THRESHOLD = 100_000_000_000


def jid_to_string(jid: Any) -> str:
    """`user@server` for a neonize `JID`, without the device/agent part (`1:4@s.whatsapp.net` → `1@...`)."""
    from neonize.utils.jid import Jid2String, JIDToNonAD

    return str(Jid2String(JIDToNonAD(jid)))


def jid_or_none(holder: Any, field: str) -> str | None:
    """`jid_to_string` of the JID field `field` of `holder`, or None when it is unset or empty."""
    if not holder.HasField(field):
        return None
    jid = getattr(holder, field)
    if not jid.User and not jid.Server:
        return None
    return jid_to_string(jid) or None


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
    if "." in user and server in (USER_SERVER, LID_SERVER):
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

"""The event feed (`/events`, polled) and its live twin (`/events/stream`, Server-Sent Events).

Both are queries over the instance's stream in the event store, ordered by (timestamp,
position). Timestamps are strictly increasing within a stream, so `since=latestTimestamp`
never skips or repeats; the opaque `cursor`/`after` pair carries the position too.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator

import trio
from quart import Blueprint, Response, current_app, jsonify, request

from wamux.core.ports import TimelineQuery
from wamux.domain.catalog import PUBLIC_EVENT_TYPES
from wamux.domain.clock import iso_ms
from wamux.domain.errors import ValidationFailed
from wamux.domain.events import RecordedEvent
from wamux.http.auth import owned_instance
from wamux.http.bodies import date_arg, int_arg, list_arg
from wamux.http.services import Services
from wamux.projections.payloads import event_json

bp = Blueprint("events", __name__)
HEARTBEAT_S = 15.0


def services() -> Services:
    s: Services = current_app.config["services"]
    return s


def encode_cursor(ts: int, position: int) -> str:
    return base64.urlsafe_b64encode(f"{ts}:{position}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str, name: str = "after") -> tuple[int, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        ts, position = raw.split(":")
        return int(ts), int(position)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed(f"{name} is not a cursor from this API", details={name: "invalid"}) from None


@bp.get("/api/instances/<instance_id>/events")
async def events(instance_id: str) -> Response:
    s = services()
    actor = owned_instance(s, instance_id)
    limit = int_arg("limit", 20, low=1, high=1000)
    types = list_arg("types", PUBLIC_EVENT_TYPES) or PUBLIC_EVENT_TYPES
    since = date_arg("since")
    after_raw = request.args.get("after")
    after: tuple[int, int] | None = None
    if after_raw:
        after = decode_cursor(after_raw)
    elif since is not None:
        after = (since, 2**62)  # exclusive of everything stamped `since`
    if after is None:
        page = await s.store.timeline(
            TimelineQuery(stream_id=actor.id, types=types, newest_first=True, limit=limit + 1)
        )
        has_more = len(page) > limit
        page = list(reversed(page[:limit]))
    else:
        page = await s.store.timeline(TimelineQuery(stream_id=actor.id, types=types, after=after, limit=limit + 1))
        has_more = len(page) > limit
        page = page[:limit]
    latest: str | None
    if page:
        last = page[-1]
        latest = iso_ms(last.timestamp_ms)
        cursor = encode_cursor(last.timestamp_ms, last.position)
    else:
        latest = iso_ms(since) if since is not None else (iso_ms(after[0]) if after else None)
        cursor = after_raw or (encode_cursor(*after) if after else encode_cursor(0, 0))
    return jsonify(
        {
            "events": [event_json(r) for r in page],
            "latestTimestamp": latest,
            "count": len(page),
            "hasMore": has_more,
            "cursor": cursor,
        }
    )


def _sse(recorded: RecordedEvent) -> bytes:
    doc = event_json(recorded)
    cursor = encode_cursor(recorded.timestamp_ms, recorded.position)
    return f"id: {cursor}\nevent: {recorded.type}\ndata: {json.dumps(doc, ensure_ascii=False)}\n\n".encode()


@bp.get("/api/instances/<instance_id>/events/stream")
async def stream(instance_id: str) -> Response:
    s = services()
    actor = owned_instance(s, instance_id)
    types = list_arg("types", PUBLIC_EVENT_TYPES) or PUBLIC_EVENT_TYPES
    resume = request.headers.get("Last-Event-ID") or request.args.get("lastEventId")
    if resume:
        after = decode_cursor(resume, "Last-Event-ID")
    else:
        since = date_arg("since")
        if since is not None:
            after = (since, 2**62)
        else:  # from now on
            latest = await s.store.timeline(TimelineQuery(stream_id=actor.id, newest_first=True, limit=1))
            after = (latest[0].timestamp_ms, latest[0].position) if latest else (0, 0)

    async def body() -> AsyncIterator[bytes]:
        position = after
        yield b"retry: 2000\n\n"
        while True:
            page = await s.store.timeline(TimelineQuery(stream_id=actor.id, types=types, after=position, limit=500))
            for recorded in page:
                yield _sse(recorded)
                position = (recorded.timestamp_ms, recorded.position)
            if len(page) == 500:
                continue
            head = s.store.head()
            with trio.move_on_after(HEARTBEAT_S) as scope:
                await s.store.wait_beyond(head)
            if scope.cancelled_caught:
                yield b": keep-alive\n\n"

    response = Response(body(), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    response.timeout = None
    return response

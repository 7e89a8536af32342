"""`wamux events export`: one instance's events as JSON lines in the API's shapes, secrets redacted.

Each line is `{id, version, type, timestamp, data}`: `id` is the store position and `data` the
API's `data` for the events `/api/instances/{id}/events` lists (camelCase, built by the same
function), and the event's own fields in camelCase for the others (created, instance_updated, …).
`--since` is exclusive, as the API's `since`. Reads the event log only.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any
from uuid import UUID

import trio

from wamux.run.commands.base import EXIT_OK, EXIT_USAGE, CommandFailed, command_settings
from wamux.run.commands.offline import open_event_log

if TYPE_CHECKING:
    from wamux.domain.events import RecordedEvent

PAGE = 1000
AFTER_EVERY_POSITION = 2**62  # `(since, this)` is after every event stamped `since`, as the API pages


def camel(name: str) -> str:
    """`webhook_url` → `webhookUrl` (a name without `_` stays as it is)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def export_record(recorded: RecordedEvent) -> dict[str, Any]:
    """One line of the export: the API's event shape, with the stream version beside it."""
    from wamux.domain.catalog import PUBLIC_EVENT_TYPES
    from wamux.domain.clock import iso_ms
    from wamux.domain.events import redact_secrets
    from wamux.projections.payloads import event_data

    event = recorded.event
    data: dict[str, Any]
    if recorded.type in PUBLIC_EVENT_TYPES and not type(event).secret_fields:
        data = event_data(recorded)
    else:  # the event's own fields; nested objects keep the API names they were given in
        data = {camel(k): v for k, v in redact_secrets(event).items()}
        data.setdefault("instanceId", recorded.stream_id)
    return {
        "id": str(recorded.position),
        "version": recorded.version,
        "type": recorded.type,
        "timestamp": iso_ms(recorded.timestamp_ms),
        "data": data,
    }


def cmd_events_export(args: argparse.Namespace) -> int:
    """Write an instance's events, oldest first, as JSON lines (secrets shown as `***`)."""
    from wamux.core.ports import TimelineQuery
    from wamux.domain.clock import parse_iso_ms
    from wamux.domain.events import InstanceCreated

    try:
        instance_id = str(UUID(args.instance))
    except ValueError:
        raise CommandFailed(f"--instance {args.instance!r} is not an instance id (a UUID)", EXIT_USAGE) from None
    try:
        since = parse_iso_ms(args.since) if args.since else None
    except ValueError:
        raise CommandFailed(f"--since {args.since!r} is not an ISO 8601 date", EXIT_USAGE) from None
    store = open_event_log(command_settings()).store

    async def main() -> int:
        first = await store.timeline(TimelineQuery(stream_id=instance_id, limit=1))
        if not first or not isinstance(first[0].event, InstanceCreated):
            raise CommandFailed(f"no instance {instance_id}")
        count = 0
        after = (since, AFTER_EVERY_POSITION) if since is not None else None
        while True:
            page = await store.timeline(TimelineQuery(stream_id=instance_id, after=after, limit=PAGE))
            for r in page:
                sys.stdout.write(json.dumps(export_record(r)) + "\n")
                count += 1
            if len(page) < PAGE:
                return count
            after = (page[-1].timestamp_ms, page[-1].position)

    count = trio.run(main)
    print(f"exported {count} events", file=sys.stderr)
    return EXIT_OK

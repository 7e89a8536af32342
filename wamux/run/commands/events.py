"""`wamux events export`: one instance's events as JSON lines, secrets redacted (the event log only)."""

from __future__ import annotations

import argparse
import json
import sys
from uuid import UUID

import trio

from wamux.run.commands.base import EXIT_OK, EXIT_USAGE, CommandFailed, command_settings
from wamux.run.commands.offline import open_event_log

PAGE = 1000


def cmd_events_export(args: argparse.Namespace) -> int:
    """Write an instance's events, oldest first, as JSON lines (secrets shown as `***`)."""
    from wamux.core.ports import TimelineQuery
    from wamux.domain.clock import iso_ms, parse_iso_ms
    from wamux.domain.events import redact_secrets

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
        count = 0
        after: tuple[int, int] | None = None
        while True:
            page = await store.timeline(TimelineQuery(stream_id=instance_id, after=after, start_ms=since, limit=PAGE))
            for r in page:
                record = {
                    "position": r.position,
                    "version": r.version,
                    "type": r.type,
                    "timestamp": iso_ms(r.timestamp_ms),
                    "data": redact_secrets(r.event),
                }
                sys.stdout.write(json.dumps(record) + "\n")
                count += 1
            if len(page) < PAGE:
                return count
            after = (page[-1].timestamp_ms, page[-1].position)

    count = trio.run(main)
    print(f"exported {count} events", file=sys.stderr)
    return EXIT_OK

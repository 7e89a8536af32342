"""The SQLite log's topic index: `select_rare` finds rare records without walking the log, and the generic
`select_notifications` never uses the index (a frequent topic through it would be collected and sorted per page)."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteCursor

from wamux.adapters.eventlog.codec import encode_state
from wamux.adapters.eventlog.sqlite import open_sqlite_recorder
from wamux.domain.events import InstanceCreated, InstanceDeleted, MessageReceived

ALICE = "79001234567@s.whatsapp.net"


def _log(path: Path, n: int = 3000) -> tuple[object, list[int]]:
    recorder = open_sqlite_recorder(str(path))
    streams = [uuid4() for _ in range(7)]
    versions = dict.fromkeys(streams, 0)
    records = []
    for i in range(n):
        stream = streams[i % len(streams)]
        versions[stream] += 1
        if i % 500 == 7:
            event: object = InstanceCreated(str(stream), "u1", f"i{i}", None, None, False, {})
        else:
            event = MessageReceived(
                instance_id=str(stream), message_id=f"m{i}", chat_jid=ALICE, sender_jid=ALICE, message_type="text"
            )
        state = encode_state(event, 1_700_000_000_000 + i)  # type: ignore[arg-type]
        records.append(StoredEvent(stream, versions[stream], event.type, state))  # type: ignore[attr-defined]
    ids = []
    for start in range(0, n, 500):
        ids += list(recorder.insert_events(records[start : start + 500]) or [])
    return recorder, ids


def test_select_rare_answers_what_the_generic_query_answers(tmp_path: Path) -> None:
    recorder, _ = _log(tmp_path / "events.db")
    topics = (InstanceCreated.type, InstanceDeleted.type)
    for start, limit in ((0, 100), (0, 3), (1500, 2), (2999, 10), (0, 1)):
        rare = recorder.select_rare(start, limit, topics)  # type: ignore[attr-defined]
        generic = recorder.select_notifications(start, limit, topics=topics, inclusive_of_start=False)  # type: ignore[attr-defined]
        assert [(n.id, n.originator_id, n.originator_version, n.topic, n.state) for n in rare] == [
            (n.id, n.originator_id, n.originator_version, n.topic, n.state) for n in generic
        ]
    assert len(recorder.select_rare(0, 100, topics)) == 6  # type: ignore[attr-defined]
    several = recorder.select_rare(0, 5, (MessageReceived.type, InstanceCreated.type))  # type: ignore[attr-defined]
    assert [n.id for n in several] == [1, 2, 3, 4, 5]  # merged in log order, cut to the limit


def test_only_select_rare_uses_the_topic_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recorder, _ = _log(tmp_path / "events.db", n=200)
    executed: list[tuple[str, list[object]]] = []
    original = SQLiteCursor.execute

    def spy(self: SQLiteCursor, sql: str, params: list[object] | None = None) -> None:
        executed.append((sql, list(params or [])))
        original(self, sql, params or [])

    monkeypatch.setattr(SQLiteCursor, "execute", spy)
    recorder.select_notifications(0, 10, topics=(MessageReceived.type,), inclusive_of_start=False)  # type: ignore[attr-defined]
    recorder.select_rare(0, 10, (InstanceCreated.type,))  # type: ignore[attr-defined]
    monkeypatch.undo()
    executed = [(sql, params) for sql, params in executed if sql.startswith("SELECT")]
    assert len(executed) == 2
    plans = []
    with recorder.datastore.transaction(commit=False) as c:  # type: ignore[attr-defined]
        for sql, params in executed:
            c.execute("EXPLAIN QUERY PLAN " + sql, params)
            plans.append(" ".join(str(row[-1]) for row in c.fetchall()))
    generic, rare = plans
    assert "stored_events_topic" not in generic and "PRIMARY KEY" in generic, generic
    assert "stored_events_topic" in rare and "B-TREE" not in rare, rare  # an index range, no sort

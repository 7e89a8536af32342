"""`ReadModelStore.apply_all` on both backends: one transaction for every projection of a batch,
a raising projection undone alone, and the session's write-back cache (reads see the writes before them)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from wamux.adapters.readmodels.mongo import MongoReadModelStore
from wamux.adapters.readmodels.sqlite import SQLiteReadModelStore
from wamux.projections.ports import Collection, Query, ReadModelStore, ReadSession

CHATS = Collection("chats", {"instance_id": "text", "unread": "int", "pinned": "bool"}, (("instance_id",),))
NOTES = Collection("notes", {"title": "text"})
TAGS = Collection("tags", {"tag": "text"})

Work = Callable[[ReadSession], None]


@pytest.fixture(params=["sqlite", pytest.param("mongo", marks=pytest.mark.mongo)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ReadModelStore]:
    rm: ReadModelStore
    if request.param == "sqlite":
        rm = SQLiteReadModelStore(str(tmp_path / "read.db"))
    else:
        rm = MongoReadModelStore(request.getfixturevalue("mongo_db_url"))
    rm.ensure((CHATS, NOTES, TAGS))
    yield rm
    rm.close()


def everything(rm: ReadModelStore, collection: Collection) -> dict[str, dict[str, Any]]:
    rows = rm.find(collection, Query(order=(("key", False),)))
    keys = [row["key"] for row in rows]
    return dict(zip(keys, rows, strict=True))


def keyed(doc: dict[str, Any], key: str) -> dict[str, Any]:
    return {"key": key, **doc}


def put_rows(collection: Collection, rows: dict[str, dict[str, Any]]) -> Work:
    def work(session: ReadSession) -> None:
        for key, doc in rows.items():
            session.put(collection, key, keyed(doc, key))

    return work


def test_every_projection_commits_its_rows_and_position(store: ReadModelStore) -> None:
    failed = store.apply_all(
        [
            ("chats_p", 7, put_rows(CHATS, {"c1": {"instance_id": "i1", "unread": 1, "pinned": True}})),
            ("notes_p", 9, put_rows(NOTES, {"n1": {"title": "a"}, "n2": {"title": "b"}})),
            ("idle_p", 9, lambda session: None),
        ]
    )
    assert failed == {}
    assert (store.position("chats_p"), store.position("notes_p"), store.position("idle_p")) == (7, 9, 9)
    assert everything(store, CHATS) == {"c1": {"key": "c1", "instance_id": "i1", "unread": 1, "pinned": True}}
    assert sorted(everything(store, NOTES)) == ["n1", "n2"]
    assert store.apply_all([]) == {}


def test_a_raising_projection_is_undone_alone(store: ReadModelStore) -> None:
    store.apply_all([("notes_p", 1, put_rows(NOTES, {"n0": {"title": "before"}}))])
    boom = RuntimeError("poisoned event")

    def breaks(session: ReadSession) -> None:
        session.put(NOTES, "n0", keyed({"title": "changed"}, "n0"))
        session.put(NOTES, "n1", keyed({"title": "new"}, "n1"))
        assert session.find(NOTES, Query()) != []  # its writes reached the database inside the transaction
        raise boom

    failed = store.apply_all(
        [
            ("chats_p", 5, put_rows(CHATS, {"c1": {"instance_id": "i1", "unread": 0, "pinned": False}})),
            ("notes_p", 5, breaks),
            ("tags_p", 5, put_rows(TAGS, {"t1": {"tag": "x"}})),
        ]
    )
    assert failed == {"notes_p": boom}
    assert everything(store, NOTES) == {"n0": {"key": "n0", "title": "before"}}  # rows as they were
    assert store.position("notes_p") == 1  # and its position
    assert (store.position("chats_p"), store.position("tags_p")) == (5, 5)  # the others committed
    assert sorted(everything(store, CHATS)) == ["c1"] and sorted(everything(store, TAGS)) == ["t1"]


def test_every_projection_raising_commits_nothing(store: ReadModelStore) -> None:
    def breaks(session: ReadSession) -> None:
        session.put(TAGS, "t", {"tag": "x"})
        raise ValueError("no")

    failed = store.apply_all([("a", 3, breaks), ("b", 3, breaks)])
    assert set(failed) == {"a", "b"} and all(isinstance(e, ValueError) for e in failed.values())
    assert (store.position("a"), store.position("b")) == (0, 0) and everything(store, TAGS) == {}


def test_reads_see_the_writes_before_them_in_the_same_transaction(store: ReadModelStore) -> None:
    store.apply_all([("setup", 1, put_rows(CHATS, {"old": {"instance_id": "i1", "unread": 4, "pinned": False}}))])
    seen: dict[str, Any] = {}

    def work(session: ReadSession) -> None:
        doc = keyed({"instance_id": "i1", "unread": 1, "pinned": True, "tags": ("a", "b")}, "c1")
        session.put(CHATS, "c1", doc)
        doc["unread"] = 99  # changing the dict after `put` changes nothing stored
        seen["get after put"] = session.get(CHATS, "c1")
        session.delete(CHATS, "old")
        seen["get after delete"] = session.get(CHATS, "old")
        seen["get_many"] = session.get_many(CHATS, ["c1", "old", "missing", "c1"])
        session.put(CHATS, "c2", keyed({"instance_id": "i1", "unread": 2, "pinned": False}, "c2"))
        seen["find"] = [
            r["key"] for r in session.find(CHATS, Query(where={"instance_id": "i1"}, order=(("key", False),)))
        ]
        seen["count"] = session.count(CHATS, Query(where={"pinned": True}))
        for unread in range(5):  # the same key, again and again: the last one stays
            session.put(CHATS, "c3", keyed({"instance_id": "i2", "unread": unread, "pinned": False}, "c3"))
        seen["after find"] = session.get(CHATS, "c2")
        session.delete(CHATS, "c2")
        session.put(CHATS, "c2", keyed({"instance_id": "i1", "unread": 3, "pinned": False}, "c2"))  # back again
        session.put(NOTES, "gone", {"title": "x"})
        session.delete(NOTES, "gone")  # put then delete: no row

    assert store.apply_all([("chats_p", 2, work)]) == {}
    c1 = {"key": "c1", "instance_id": "i1", "unread": 1, "pinned": True, "tags": ["a", "b"]}  # as stored: a list
    assert seen["get after put"] == c1
    assert seen["get after delete"] is None
    assert seen["get_many"] == {"c1": c1}
    assert seen["find"] == ["c1", "c2"]
    assert seen["count"] == 1
    assert seen["after find"] == {"key": "c2", "instance_id": "i1", "unread": 2, "pinned": False}
    rows = everything(store, CHATS)
    assert sorted(rows) == ["c1", "c2", "c3"]
    assert rows["c1"] == c1 and rows["c2"]["unread"] == 3 and rows["c3"]["unread"] == 4
    assert everything(store, NOTES) == {}
    # The declared fields follow the last write (queried, not only the document).
    assert [r["key"] for r in store.find(CHATS, Query(where={"instance_id": "i2"}))] == ["c3"]
    assert store.count(CHATS, Query(where={"unread": 4})) == 1 and store.count(CHATS, Query(where={"unread": 0})) == 0


def test_apply_also_writes_back(store: ReadModelStore) -> None:
    def work(session: ReadSession) -> None:
        session.put(NOTES, "n", {"title": "one"})
        session.put(NOTES, "n", {"title": "two"})
        assert session.get(NOTES, "n") == {"title": "two"}

    store.apply("notes_p", 4, work)
    assert store.get(NOTES, "n") == {"title": "two"} and store.position("notes_p") == 4
    assert store.find(NOTES, Query(where={"title": "two"})) == [{"title": "two"}]


def test_sqlite_writes_the_same_row_text_as_before(tmp_path: Path) -> None:
    """The stored document is `json.dumps` compact text, and each declared field has its column."""
    path = tmp_path / "read.db"
    rm = SQLiteReadModelStore(str(path))
    rm.ensure((CHATS,))
    doc = {"instance_id": "i1", "unread": 2, "pinned": True, "name": "Zoë 🎉", "score": 0.1}
    rm.apply_all([("p", 1, lambda session: session.put(CHATS, "k", doc))])
    rm.close()
    with sqlite3.connect(path) as conn:
        row = conn.execute("SELECT key, doc, instance_id, unread, pinned FROM rm_chats").fetchone()
    assert row == (
        "k",
        '{"instance_id":"i1","unread":2,"pinned":true,"name":"Zo\\u00eb \\ud83c\\udf89","score":0.1}',
        "i1",
        2,
        1,
    )

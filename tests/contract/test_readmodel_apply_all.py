"""`ReadModelStore.apply_all` on every backend (SQLite, MongoDB, PostgreSQL): one transaction for every
projection of a batch, a raising projection undone alone, and the session's write-back cache (reads see the
writes before them)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from wamux.adapters.readmodels.mongo import MongoReadModelStore
from wamux.adapters.readmodels.postgres import PostgresReadModelStore
from wamux.adapters.readmodels.sqlite import SQLiteReadModelStore
from wamux.projections.ports import Collection, Query, ReadModelStore, ReadSession

CHATS = Collection("chats", {"instance_id": "text", "unread": "int", "pinned": "bool"}, (("instance_id",),))
NOTES = Collection("notes", {"title": "text"})
TAGS = Collection("tags", {"tag": "text"})

Work = Callable[[ReadSession], None]


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("mongo", marks=pytest.mark.mongo),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ReadModelStore]:
    rm: ReadModelStore
    if request.param == "sqlite":
        rm = SQLiteReadModelStore(str(tmp_path / "read.db"))
    elif request.param == "postgres":
        rm = PostgresReadModelStore(request.getfixturevalue("postgres_db_url"))
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


ITEMS = Collection("items", {"label": "text", "n": "int", "x": "real", "on": "bool"}, (("label",), ("n",)))


def _item(i: int, version: int = 0) -> dict[str, Any]:
    return {
        "key": f"i{i:03}",
        "label": None if i % 7 == 0 else f"L{i % 10}{'é' if i % 3 else 'E'}" + ("\x00" if i == 1 else ""),
        "n": None if i % 11 == 0 else (i * 1_000_003 + version) * (-1 if i % 2 else 1),
        "x": None if i % 13 == 0 else i / 4 + version,
        "on": None if i % 5 == 0 else i % 2 == 0,
        "extra": {"i": i, "v": version, "tags": ["a", i]},
    }


def test_big_batches_go_in_bulk_and_read_back_exactly(store: ReadModelStore) -> None:
    """Batches as large as a rebuild's: every row, its columns, replaced rows and deleted ones."""
    store.ensure((ITEMS,))
    items = {i: _item(i) for i in range(300)}

    def first(session: ReadSession) -> None:
        for doc in items.values():
            session.put(ITEMS, doc["key"], doc)

    assert (
        store.apply_all([("items_p", 1, first), ("notes_p", 1, put_rows(NOTES, {f"n{i}": {} for i in range(40)}))])
        == {}
    )
    gone = {i for i in items if i % 3 == 0}

    def second(session: ReadSession) -> None:
        for i in gone:
            session.delete(ITEMS, f"i{i:03}")
        for i in items:
            if i % 3 == 1:
                items[i] = _item(i, version=1)
                session.put(ITEMS, items[i]["key"], items[i])
        for i in range(300, 340):
            items[i] = _item(i, version=2)
            session.put(ITEMS, items[i]["key"], items[i])

    assert store.apply_all([("items_p", 2, second)]) == {}
    alive = [doc for i, doc in sorted(items.items()) if i not in gone]
    assert everything(store, ITEMS) == {doc["key"]: doc for doc in alive}
    assert len(everything(store, NOTES)) == 40
    for name in ("label", "n", "x", "on"):  # every declared column holds the last write of each row
        values = [doc[name] for doc in alive]
        for value in {v for v in values if v is not None}:
            assert store.count(ITEMS, Query(where={name: value})) == values.count(value), (name, value)
        assert store.count(ITEMS, Query(where={name: None})) == values.count(None), name
    by_x = [doc["x"] for doc in store.find(ITEMS, Query(order=(("x", True), ("key", False))))]
    assert by_x == sorted((x for x in by_x if x is not None), reverse=True) + [None] * by_x.count(None)
    assert store.position("items_p") == 2


def test_a_value_no_column_holds_undoes_its_projection_alone_in_a_big_batch(store: ReadModelStore) -> None:
    store.ensure((ITEMS,))

    def breaks(session: ReadSession) -> None:
        for i in range(100):
            session.put(ITEMS, f"b{i:03}", {"n": 2**70 if i == 50 else i})  # past a 64-bit integer

    def breaks_small(session: ReadSession) -> None:  # a flush of a few rows (no bulk path)
        session.put(CHATS, "ok", {"unread": 1})
        session.put(CHATS, "huge", {"unread": -(2**70)})

    failed = store.apply_all(
        [
            ("items_p", 1, breaks),
            ("chats_p", 1, breaks_small),
            ("notes_p", 1, put_rows(NOTES, {f"n{i}": {} for i in range(30)})),
        ]
    )
    assert set(failed) == {"items_p", "chats_p"} and store.count(CHATS, Query()) == 0
    assert store.count(ITEMS, Query()) == 0 and store.position("items_p") == 0
    assert len(everything(store, NOTES)) == 30 and store.position("notes_p") == 1
    assert store.apply_all([("items_p", 2, put_rows(ITEMS, {f"k{i}": {"n": i} for i in range(30)}))]) == {}
    assert store.count(ITEMS, Query(ranges={"n": (10, 19)})) == 10


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

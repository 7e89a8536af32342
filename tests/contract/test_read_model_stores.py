"""One contract for every `ReadModelStore` backend: SQLite (a tmp file) and MongoDB."""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from wamux.adapters.readmodels.mongo import MongoReadModelStore
from wamux.adapters.readmodels.sqlite import SQLiteReadModelStore
from wamux.projections.ports import Collection, Query, ReadModelStore, ReadSession

CHATS = Collection(
    name="chats",
    fields={"instance_id": "text", "name": "text", "unread": "int", "score": "real", "pinned": "bool"},
    indexes=(("instance_id", "unread"), ("name",)),
)
NOTES = Collection(name="notes", fields={"title": "text"})


class Backend:
    """A store plus a way to list the index columns the backend created for a collection."""

    def __init__(self, name: str, store: ReadModelStore, index_columns: Callable[[Collection], set[tuple[str, ...]]]):
        self.name = name
        self.store = store
        self.index_columns = index_columns


@pytest.fixture(params=["sqlite", pytest.param("mongo", marks=pytest.mark.mongo)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        path = str(tmp_path / "read.db")
        sqlite_store = SQLiteReadModelStore(path)

        def sqlite_indexes(c: Collection) -> set[tuple[str, ...]]:
            with sqlite3.connect(path) as conn:
                names = [r[1] for r in conn.execute(f"PRAGMA index_list(rm_{c.name})") if r[3] == "c"]
                return {tuple(r[2] for r in conn.execute(f"PRAGMA index_info({n})")) for n in names}

        sqlite_store.ensure((CHATS, NOTES))
        yield Backend("sqlite", sqlite_store, sqlite_indexes)
        sqlite_store.close()
    else:
        url: str = request.getfixturevalue("mongo_db_url")
        mongo_store = MongoReadModelStore(url)
        client: MongoClient[dict[str, Any]] = MongoClient(url)

        def mongo_indexes(c: Collection) -> set[tuple[str, ...]]:
            info = client.get_default_database()[f"rm_{c.name}"].index_information()
            return {tuple(k for k, _ in i["key"]) for name, i in info.items() if name != "_id_"}

        mongo_store.ensure((CHATS, NOTES))
        yield Backend("mongo", mongo_store, mongo_indexes)
        client.close()
        mongo_store.close()


ROWS: dict[str, dict[str, Any]] = {
    "c1": {"instance_id": "i1", "name": "Alice Smith", "unread": 3, "score": 1.5, "pinned": True},
    "c2": {"instance_id": "i1", "name": "bob", "unread": 0, "score": 2.5, "pinned": False},
    "c3": {"instance_id": "i2", "name": "Carol ALICE", "unread": 7, "score": 0.5, "pinned": False},
    "c4": {"instance_id": "i1", "name": "50% off_deals (shop)", "unread": 1, "score": None, "pinned": True},
    "c5": {"instance_id": "i1", "name": None, "unread": 5, "score": 3.0, "pinned": False},
}


def _fill(store: ReadModelStore, position: int = 1) -> None:
    def work(session: ReadSession) -> None:
        for key, doc in ROWS.items():
            session.put(CHATS, key, doc)

    store.apply("chats_projection", position, work)


def _names(rows: list[dict[str, Any]]) -> list[Any]:
    return [r["name"] for r in rows]


def test_put_get_roundtrip_is_exact(backend: Backend) -> None:
    store = backend.store
    doc = {
        "instance_id": "i1",
        "name": "Zoë",
        "unread": 2,
        "score": 0.25,
        "pinned": True,
        "nested": {"list": [1, "two", None, {"deep": False}], "empty": {}},
        "extra": None,
    }
    store.apply("p", 1, lambda s: s.put(CHATS, "k1", doc))
    got = store.get(CHATS, "k1")
    assert got == doc
    assert got is not None and list(got) == list(doc)  # nothing added: no _id, no key
    assert isinstance(got["pinned"], bool) and isinstance(got["unread"], int)
    assert store.get(CHATS, "missing") is None
    # Tuples come back as lists on every backend (the JSON model).
    store.apply("p", 2, lambda s: s.put(NOTES, "n", {"title": "t", "pair": (1, 2)}))
    assert store.get(NOTES, "n") == {"title": "t", "pair": [1, 2]}


def test_put_replaces_and_delete_removes(backend: Backend) -> None:
    store = backend.store
    store.apply("p", 1, lambda s: s.put(CHATS, "k", {"name": "old", "unread": 1, "gone": "x"}))
    store.apply("p", 2, lambda s: s.put(CHATS, "k", {"name": "new"}))
    assert store.get(CHATS, "k") == {"name": "new"}
    assert store.find(CHATS, Query(where={"unread": 1})) == []
    store.apply("p", 3, lambda s: s.delete(CHATS, "k"))
    assert store.get(CHATS, "k") is None
    store.apply("p", 4, lambda s: s.delete(CHATS, "never-existed"))
    assert store.count(CHATS, Query()) == 0


def test_get_many_answers_the_keys_that_exist_with_the_transactions_own_writes(backend: Backend) -> None:
    """One query for a batch of keys (1,200: more than one query's worth), as `get` would answer each."""
    store = backend.store
    _fill(store)
    seen: dict[str, Any] = {}
    keys = [f"n{i}" for i in range(1200)]

    def work(session: ReadSession) -> None:
        seen["stored"] = session.get_many(CHATS, ["c1", "nope", "c3", "c1"])
        session.put(CHATS, "c9", {"name": "new"})
        session.delete(CHATS, "c3")
        seen["own"] = session.get_many(CHATS, ["c9", "c3", "c2"])
        for i, key in enumerate(keys):
            if i % 3 == 0:
                session.put(NOTES, key, {"title": key, "i": i})
        seen["many"] = session.get_many(NOTES, keys)
        seen["none"] = session.get_many(NOTES, [])

    store.apply("p", 2, work)
    assert seen["stored"] == {"c1": ROWS["c1"], "c3": ROWS["c3"]}
    assert seen["own"] == {"c9": {"name": "new"}, "c2": ROWS["c2"]}
    assert seen["many"] == {key: {"title": key, "i": i} for i, key in enumerate(keys) if i % 3 == 0}
    assert seen["none"] == {}
    assert store.get(CHATS, "c3") is None and store.get(CHATS, "c9") == {"name": "new"}


def test_session_reads_see_the_transactions_own_writes(backend: Backend) -> None:
    seen: dict[str, Any] = {}

    def work(session: ReadSession) -> None:
        session.put(CHATS, "a", {"instance_id": "i9", "name": "x", "unread": 1})
        seen["get"] = session.get(CHATS, "a")
        seen["find"] = session.find(CHATS, Query(where={"instance_id": "i9"}))

    backend.store.apply("p", 1, work)
    assert seen["get"] == {"instance_id": "i9", "name": "x", "unread": 1}
    assert seen["find"] == [seen["get"]]


def test_where_equality(backend: Backend) -> None:
    store = backend.store
    _fill(store)
    assert sorted(_names(store.find(CHATS, Query(where={"instance_id": "i2"})))) == ["Carol ALICE"]
    assert store.count(CHATS, Query(where={"instance_id": "i1"})) == 4
    assert store.count(CHATS, Query(where={"instance_id": "i1", "unread": 0})) == 1
    assert store.count(CHATS, Query(where={"pinned": True})) == 2
    assert store.count(CHATS, Query(where={"pinned": False})) == 3
    assert _names(store.find(CHATS, Query(where={"name": None}))) == [None]
    assert _names(store.find(CHATS, Query(where={"key": "c2"}))) == ["bob"]
    assert store.find(CHATS, Query(where={"instance_id": "nope"})) == []


def test_ranges_are_inclusive_and_may_be_open(backend: Backend) -> None:
    store = backend.store
    _fill(store)
    order = (("unread", False),)
    assert [r["unread"] for r in store.find(CHATS, Query(ranges={"unread": (1, 5)}, order=order))] == [
        1,
        3,
        5,
    ]
    assert [r["unread"] for r in store.find(CHATS, Query(ranges={"unread": (5, None)}, order=order))] == [
        5,
        7,
    ]
    assert [r["unread"] for r in store.find(CHATS, Query(ranges={"unread": (None, 1)}, order=order))] == [
        0,
        1,
    ]
    assert store.count(CHATS, Query(ranges={"score": (1.5, 2.5)})) == 2
    assert store.count(CHATS, Query(ranges={"unread": (4, 6)}, where={"instance_id": "i1"})) == 1
    assert store.count(CHATS, Query(ranges={"unread": (None, None)})) == 5


def test_search_is_a_case_insensitive_literal_substring(backend: Backend) -> None:
    store = backend.store
    _fill(store)

    def search(needle: str, *names: str) -> list[Any]:
        return sorted(_names(store.find(CHATS, Query(search=(names or ("name",), needle)))), key=str)

    assert search("alice") == ["Alice Smith", "Carol ALICE"]
    assert search("ALICE") == ["Alice Smith", "Carol ALICE"]
    assert search("OB") == ["bob"]
    # Wildcards and regex metacharacters are literal.
    assert search("50%") == ["50% off_deals (shop)"]
    assert search("%") == ["50% off_deals (shop)"]
    assert search("f_d") == ["50% off_deals (shop)"]
    assert search("_") == ["50% off_deals (shop)"]
    assert search("(shop)") == ["50% off_deals (shop)"]
    assert search(".") == []
    assert search("a.*e") == []
    assert search("zzz") == []
    # Several fields: a match in any of them; combined with the other filters by AND.
    assert search("i2", "name", "instance_id") == ["Carol ALICE"]
    assert store.count(CHATS, Query(search=(("name",), "alice"), where={"instance_id": "i1"})) == 1


def test_order_skip_limit(backend: Backend) -> None:
    store = backend.store
    _fill(store)
    by_unread = Query(order=(("unread", True),))
    assert [r["unread"] for r in store.find(CHATS, by_unread)] == [7, 5, 3, 1, 0]
    assert [r["unread"] for r in store.find(CHATS, Query(order=(("unread", True),), skip=1, limit=2))] == [
        5,
        3,
    ]
    assert [r["unread"] for r in store.find(CHATS, Query(order=(("unread", False),), skip=2))] == [3, 5, 7]
    assert [r["unread"] for r in store.find(CHATS, Query(order=(("unread", False),), limit=0))] == []
    # Several keys: pinned first (desc), then unread ascending.
    two_keys = Query(order=(("pinned", True), ("unread", False)))
    assert [(r["pinned"], r["unread"]) for r in store.find(CHATS, two_keys)] == [
        (True, 1),
        (True, 3),
        (False, 0),
        (False, 5),
        (False, 7),
    ]
    # Nulls sort first ascending on both backends.
    assert _names(store.find(CHATS, Query(order=(("name", False),), limit=1))) == [None]
    assert [r["unread"] for r in store.find(CHATS, Query(order=(("key", True),)))] == [5, 1, 7, 0, 3]
    # count ignores paging and order.
    assert store.count(CHATS, Query(where={"instance_id": "i1"}, skip=2, limit=1)) == 4


def test_undeclared_fields_are_refused(backend: Backend) -> None:
    store = backend.store
    _fill(store)
    for query in (
        Query(where={"nested": 1}),
        Query(ranges={"nested": (1, 2)}),
        Query(search=(("nested",), "x")),
        Query(order=(("nested", False),)),
    ):
        with pytest.raises(ValueError):
            store.find(CHATS, query)
    with pytest.raises(ValueError):
        store.count(CHATS, Query(where={"nested": 1}))


def test_position_and_apply(backend: Backend) -> None:
    store = backend.store
    assert store.position("chats_projection") == 0
    _fill(store, position=41)
    assert store.position("chats_projection") == 41
    assert store.position("other") == 0
    store.apply("chats_projection", 42, lambda s: s.put(CHATS, "c6", {"name": "f"}))
    assert store.position("chats_projection") == 42
    assert store.count(CHATS, Query()) == 6


class _Boom(Exception):
    pass


def test_apply_is_atomic(backend: Backend) -> None:
    store = backend.store
    _fill(store, position=7)

    def work(session: ReadSession) -> None:
        session.put(CHATS, "c1", {"name": "changed"})
        session.put(CHATS, "new", {"name": "new"})
        session.delete(CHATS, "c2")
        session.put(NOTES, "n", {"title": "t"})
        raise _Boom

    with pytest.raises(_Boom):
        store.apply("chats_projection", 8, work)
    assert store.position("chats_projection") == 7
    assert store.get(CHATS, "c1") == ROWS["c1"]
    assert store.get(CHATS, "c2") == ROWS["c2"]
    assert store.get(CHATS, "new") is None
    assert store.count(NOTES, Query()) == 0
    # A first apply that fails leaves no position behind either.
    with pytest.raises(_Boom):
        store.apply("fresh", 1, work)
    assert store.position("fresh") == 0


def test_reset_drops_rows_and_position_only(backend: Backend) -> None:
    store = backend.store
    _fill(store, position=5)
    store.apply("notes_projection", 9, lambda s: s.put(NOTES, "n", {"title": "keep"}))
    store.reset("chats_projection", (CHATS,))
    assert store.count(CHATS, Query()) == 0
    assert store.get(CHATS, "c1") is None
    assert store.position("chats_projection") == 0
    assert store.position("notes_projection") == 9
    assert store.get(NOTES, "n") == {"title": "keep"}
    _fill(store, position=1)  # rebuilds from scratch
    assert store.count(CHATS, Query()) == 5


def test_ensure_creates_declared_indexes_and_is_idempotent(backend: Backend) -> None:
    store = backend.store
    store.ensure((CHATS, NOTES))
    store.ensure((CHATS,))
    assert backend.index_columns(CHATS) == {("instance_id", "unread"), ("name",)}
    assert backend.index_columns(NOTES) == set()
    later = Collection(name="later", fields={"x": "int"}, indexes=(("x",),))
    store.ensure((later,))
    assert backend.index_columns(later) == {("x",)}
    store.apply("p", 1, lambda s: s.put(later, "k", {"x": 1}))
    assert store.find(later, Query(where={"x": 1})) == [{"x": 1}]


def _put_note(key: str, session: ReadSession) -> None:
    session.put(NOTES, key, {"title": key})


def test_concurrent_applies_all_land(backend: Backend) -> None:
    store = backend.store
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(10):
                store.apply(f"p{n}", i + 1, functools.partial(_put_note, f"{n}-{i}"))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert store.count(NOTES, Query()) == 40
    assert [store.position(f"p{n}") for n in range(4)] == [10, 10, 10, 10]


def test_a_field_declared_later_is_filled_from_the_rows_already_there(tmp_path: Path) -> None:
    # SQLite only: a table made by an older release gains the column and its values, with no rebuild.
    path = str(tmp_path / "read.db")
    old = Collection("later", {"name": "text"})
    new = Collection("later", {"name": "text", "rank": "int", "flag": "bool"}, indexes=(("rank",),))
    store = SQLiteReadModelStore(path)
    store.ensure((old,))

    def work(session: ReadSession) -> None:
        session.put(old, "a", {"name": "a", "rank": 2, "flag": True})
        session.put(old, "b", {"name": "b"})

    store.apply("p", 1, work)
    store.close()
    store = SQLiteReadModelStore(path)
    try:
        store.ensure((new,))
        assert _names(store.find(new, Query(where={"rank": 2}))) == ["a"]
        assert _names(store.find(new, Query(where={"flag": True}))) == ["a"]
        assert _names(store.find(new, Query(where={"rank": None}))) == ["b"]
        store.apply("p", 2, lambda s: s.put(new, "c", {"name": "c", "rank": 3, "flag": False}))
        assert _names(store.find(new, Query(ranges={"rank": (1, None)}, order=(("rank", False),)))) == ["a", "c"]
    finally:
        store.close()

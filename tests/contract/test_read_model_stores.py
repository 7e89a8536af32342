"""One contract for every `ReadModelStore` backend: SQLite (a tmp file), MongoDB and PostgreSQL."""

from __future__ import annotations

import functools
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pymongo import MongoClient

from wamux.adapters.readmodels.mongo import MongoReadModelStore
from wamux.adapters.readmodels.postgres import PostgresReadModelStore
from wamux.adapters.readmodels.sqlite import SQLiteReadModelStore
from wamux.projections.ports import Collection, Query, ReadModelStore, ReadSession

CHATS = Collection(
    name="chats",
    fields={"instance_id": "text", "name": "text", "unread": "int", "score": "real", "pinned": "bool"},
    indexes=(("instance_id", "unread"), ("name",)),
)
NOTES = Collection(name="notes", fields={"title": "text"})


class Backend:
    """A store, a way to list the index columns the backend created for a collection, and a way to open
    another store on the same database (a restart, or another process of a cluster)."""

    def __init__(
        self,
        name: str,
        store: ReadModelStore,
        index_columns: Callable[[Collection], set[tuple[str, ...]]],
        reopen: Callable[[], ReadModelStore],
    ):
        self.name = name
        self.store = store
        self.index_columns = index_columns
        self.reopen = reopen


@pytest.fixture
def linguistic_postgres_url(postgres_server: Any) -> Iterator[str]:
    """A fresh database whose default collation is linguistic (ICU en-US: "a" < "B" < "é" < "z"), so the
    byte order the store promises comes from its own columns, not from the server's defaults."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    postgres_server.sql(
        f"CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
    )
    yield f"postgresql://wamux@127.0.0.1:{postgres_server.port}/{name}"
    postgres_server.drop(name)


def postgres_indexes(url: str, c: Collection) -> set[tuple[str, ...]]:
    """The column lists of the indexes on `rm_<name>` (the primary key aside), read from `pg_indexes`."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = %s AND indexname <> %s",
            (f"rm_{c.name}", f"rm_{c.name}_pkey"),
        ).fetchall()
    columns = (row[0][row[0].index("(") + 1 : row[0].rindex(")")].split(", ") for row in rows)
    return {tuple(part.split(" ")[0].strip('"') for part in parts) for parts in columns}


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("mongo", marks=pytest.mark.mongo),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        path = str(tmp_path / "read.db")
        sqlite_store = SQLiteReadModelStore(path)

        def sqlite_indexes(c: Collection) -> set[tuple[str, ...]]:
            with sqlite3.connect(path) as conn:
                names = [r[1] for r in conn.execute(f"PRAGMA index_list(rm_{c.name})") if r[3] == "c"]
                return {tuple(r[2] for r in conn.execute(f"PRAGMA index_info({n})")) for n in names}

        sqlite_store.ensure((CHATS, NOTES))
        yield Backend("sqlite", sqlite_store, sqlite_indexes, lambda: SQLiteReadModelStore(path))
        sqlite_store.close()
    elif request.param == "postgres":
        pg_url: str = request.getfixturevalue("linguistic_postgres_url")
        pg_store = PostgresReadModelStore(pg_url)
        pg_store.ensure((CHATS, NOTES))
        indexes = functools.partial(postgres_indexes, pg_url)
        yield Backend("postgres", pg_store, indexes, lambda: PostgresReadModelStore(pg_url))
        pg_store.close()
    else:
        url: str = request.getfixturevalue("mongo_db_url")
        mongo_store = MongoReadModelStore(url)
        client: MongoClient[dict[str, Any]] = MongoClient(url)

        def mongo_indexes(c: Collection) -> set[tuple[str, ...]]:
            info = client.get_default_database()[f"rm_{c.name}"].index_information()
            return {tuple(k for k, _ in i["key"]) for name, i in info.items() if name != "_id_"}

        mongo_store.ensure((CHATS, NOTES))
        yield Backend("mongo", mongo_store, mongo_indexes, lambda: MongoReadModelStore(url))
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


def test_a_key_with_a_nul_is_written_read_and_deleted(backend: Backend) -> None:
    """A key made of what a tenant sent (a message id with a NUL) never fails a projection, on any store."""
    store = backend.store
    key = "i1:m\x00x"
    seen: dict[str, Any] = {}

    def work(session: ReadSession) -> None:
        session.put(CHATS, key, {"name": "nul\x00name", "unread": 1})
        seen["own"] = session.get_many(CHATS, [key])

    store.apply("p", 1, work)
    assert seen["own"] == {key: {"name": "nul\x00name", "unread": 1}}
    assert store.get(CHATS, key) == {"name": "nul\x00name", "unread": 1}
    store.apply("p", 2, lambda s: seen.update(stored=s.get_many(CHATS, [key, "other"])))
    assert seen["stored"] == {key: {"name": "nul\x00name", "unread": 1}}
    assert store.count(CHATS, Query(where={"unread": 1})) == 1
    store.apply("p", 3, lambda s: s.put(CHATS, key, {"name": "again", "unread": 2}))
    assert store.get(CHATS, key) == {"name": "again", "unread": 2} and store.count(CHATS, Query()) == 1
    store.apply("p", 4, lambda s: s.delete(CHATS, key))
    assert store.get(CHATS, key) is None and store.count(CHATS, Query()) == 0


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


def test_positions_answers_every_projection_in_one_read(backend: Backend) -> None:
    store = backend.store
    assert store.positions() == {}
    store.apply("a", 5, lambda s: None)
    store.apply_all([("b", 9, lambda s: None), ("a", 6, lambda s: None)])
    assert store.positions() == {"a": 6, "b": 9}
    store.reset("b", ())
    assert store.positions() == {"a": 6}


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


def test_reads_are_not_blocked_by_a_long_write(backend: Backend) -> None:
    """A projection transaction that takes its time holds back no reader, and shows nothing before it commits."""
    store = backend.store
    _fill(store)
    written, release = threading.Event(), threading.Event()

    def slow(session: ReadSession) -> None:
        session.put(CHATS, "c1", {"name": "changed"})
        session.put(CHATS, "c9", {"name": "new"})
        assert session.count(CHATS, Query()) == 6  # its writes reached the database, uncommitted
        written.set()
        assert release.wait(20)

    writer = threading.Thread(target=store.apply, args=("chats_projection", 2, slow))
    writer.start()
    try:
        assert written.wait(20)
        assert store.get(CHATS, "c1") == ROWS["c1"] and store.get(CHATS, "c9") is None
        assert store.count(CHATS, Query()) == 5 and store.position("chats_projection") == 1
        assert _names(store.find(CHATS, Query(where={"key": "c1"}))) == ["Alice Smith"]
    finally:
        release.set()
        writer.join(20)
    assert store.get(CHATS, "c1") == {"name": "changed"} and store.position("chats_projection") == 2


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


def test_a_field_declared_later_is_filled_from_the_rows_already_there(backend: Backend) -> None:
    # A table made by an older release gains the column and its values, with no rebuild.
    old = Collection("later", {"name": "text"})
    new = Collection("later", {"name": "text", "rank": "int", "flag": "bool", "w": "real"}, indexes=(("rank",),))
    store = backend.store
    store.ensure((old,))

    def work(session: ReadSession) -> None:
        session.put(old, "a", {"name": "a", "rank": 2, "flag": True, "w": 1})
        session.put(old, "b", {"name": "b", "rank": None})
        session.put(old, "d", {"name": "d", "rank": 5, "flag": False, "w": 0.5})

    store.apply("p", 1, work)
    store.close()
    backend.store = store = backend.reopen()
    store.ensure((new,))
    assert backend.index_columns(new) == {("rank",)}
    assert _names(store.find(new, Query(where={"rank": 2}))) == ["a"]
    assert _names(store.find(new, Query(where={"flag": True}))) == ["a"]
    assert _names(store.find(new, Query(where={"flag": False}))) == ["d"]
    assert _names(store.find(new, Query(where={"rank": None}))) == ["b"]
    assert _names(store.find(new, Query(ranges={"w": (0.75, 1.0)}))) == ["a"]
    store.apply("p", 2, lambda s: s.put(new, "c", {"name": "c", "rank": 3, "flag": False}))
    assert _names(store.find(new, Query(ranges={"rank": (1, None)}, order=(("rank", False),)))) == ["a", "c", "d"]
    assert store.get(new, "a") == {"name": "a", "rank": 2, "flag": True, "w": 1}


def test_ensure_from_several_stores_at_once_creates_once(backend: Backend) -> None:
    """Cluster mode: several processes start together on one database and each ensures every collection."""
    wide = Collection("wide", {"a": "text", "b": "int"}, indexes=(("a",), ("a", "b")))
    stores = [backend.reopen() for _ in range(4)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(stores))

    def ensure(store: ReadModelStore) -> None:
        try:
            start.wait()
            store.ensure((wide, CHATS, NOTES))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=ensure, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    assert not errors, errors
    assert backend.index_columns(wide) == {("a",), ("a", "b")}
    backend.store.apply("p", 1, lambda s: s.put(wide, "k", {"a": "x", "b": 1}))
    assert backend.store.find(wide, Query(where={"a": "x", "b": 1})) == [{"a": "x", "b": 1}]


WORDS = Collection("words", {"word": "text", "n": "int", "x": "real", "on": "bool"}, indexes=(("word",),))
# Byte order of the UTF-8 text (SQLite's BINARY, MongoDB's simple comparison, PostgreSQL's "C"):
# upper case before lower case, ASCII before everything else, "ß" (C3 9F) before "é" (C3 A9).
WORD_ORDER = ["", "A", "B", "Z", "a", "a b", "ab", "b", "z", "ß", "é", "ñ", "日本", "😀"]


def _fill_words(store: ReadModelStore) -> None:
    shuffled = [*WORD_ORDER[5:], None, *WORD_ORDER[:5]]

    def work(session: ReadSession) -> None:
        for i, word in enumerate(shuffled):
            session.put(WORDS, f"w{i:02}", {"word": word, "n": i if i % 4 else None})

    store.ensure((WORDS,))
    store.apply("words", 1, work)


def test_text_sorts_by_its_bytes_whatever_the_case_or_script(backend: Backend) -> None:
    store = backend.store
    _fill_words(store)
    words = [r["word"] for r in store.find(WORDS, Query(order=(("word", False),)))]
    assert words == [None, *WORD_ORDER]
    words = [r["word"] for r in store.find(WORDS, Query(order=(("word", True),)))]
    assert words == [*reversed(WORD_ORDER), None]
    in_range = store.find(WORDS, Query(ranges={"word": ("B", "b")}, order=(("word", False),)))
    assert [r["word"] for r in in_range] == ["B", "Z", "a", "a b", "ab", "b"]
    assert [r["word"] for r in store.find(WORDS, Query(ranges={"word": ("z", None)}))] == [
        "z",
        "ß",
        "é",
        "ñ",
        "日本",
        "😀",
    ]
    assert store.count(WORDS, Query(where={"word": "é"})) == 1 and store.count(WORDS, Query(where={"word": "E"})) == 0


def test_nulls_sort_first_ascending_and_last_descending(backend: Backend) -> None:
    store = backend.store
    _fill_words(store)
    up = [r["n"] for r in store.find(WORDS, Query(order=(("n", False),)))]
    down = [r["n"] for r in store.find(WORDS, Query(order=(("n", True),)))]
    numbers = sorted(n for n in up if n is not None)
    nulls = [None] * (len(up) - len(numbers))
    assert len(nulls) == 4 and up == nulls + numbers and down == list(reversed(numbers)) + nulls
    # Within a second key too, and through skip/limit.
    two = store.find(WORDS, Query(order=(("n", True), ("word", False)), skip=len(numbers)))
    assert [r["word"] for r in two] == sorted((r["word"] for r in two), key=lambda w: w.encode())
    assert [r["n"] for r in store.find(WORDS, Query(order=(("n", False),), limit=5))] == [*nulls, numbers[0]]


def test_search_escapes_every_metacharacter_and_folds_ascii_case(backend: Backend) -> None:
    store = backend.store
    names = ["back\\slash", "it's", 'say "hi"', "Zoë", "100%", "a_b", "[x]", "nul\x00byte"]

    def work(session: ReadSession) -> None:
        for i, name in enumerate(names):
            session.put(WORDS, f"k{i}", {"word": name})

    store.ensure((WORDS,))
    store.apply("words", 1, work)

    def search(needle: str) -> list[str]:
        return sorted(r["word"] for r in store.find(WORDS, Query(search=(("word",), needle))))

    assert search("\\") == ["back\\slash"]
    assert search("k\\s") == ["back\\slash"]
    assert search("\\\\") == []
    assert search("'") == ["it's"] and search('"HI"') == ['say "hi"']
    assert search("ë") == ["Zoë"] and search("ZO") == ["Zoë"]
    assert search("0%") == ["100%"] and search("a_") == ["a_b"] and search("_b") == ["a_b"]
    assert search("[x") == ["[x]"] and search("[") == ["[x]"]
    assert search("%%") == [] and search("__") == []
    # A NUL byte in tenant text is stored and matched, and the document comes back as written.
    assert store.find(WORDS, Query(where={"word": "nul\x00byte"})) == [{"word": "nul\x00byte"}]


def _kind(value: Any) -> str:
    return "bool" if isinstance(value, bool) else "int" if isinstance(value, int) else type(value).__name__


def test_bools_ints_and_reals_round_trip_and_compare(backend: Backend) -> None:
    store = backend.store
    big = 2**53 + 1  # past a double's precision
    rows: dict[str, dict[str, Any]] = {
        "t": {"on": True, "n": big, "x": 2.5},
        "f": {"on": False, "n": -(2**62), "x": -0.0},
        "none": {"on": None, "n": 0, "x": 1e300},
        "int in real": {"x": 3},
    }

    def work(session: ReadSession) -> None:
        for key, doc in rows.items():
            session.put(WORDS, key, doc)

    store.ensure((WORDS,))
    store.apply("words", 1, work)
    for key, doc in rows.items():
        got = store.get(WORDS, key)
        assert got is not None and got == doc
        assert list(map(_kind, got.values())) == list(map(_kind, doc.values()))
    assert [r["on"] for r in store.find(WORDS, Query(where={"on": True}))] == [True]
    assert [r["n"] for r in store.find(WORDS, Query(where={"on": False}))] == [-(2**62)]
    assert store.count(WORDS, Query(where={"on": 1})) == 1 and store.count(WORDS, Query(where={"on": 0})) == 1
    assert store.count(WORDS, Query(where={"on": None})) == 2
    assert [r.get("on") for r in store.find(WORDS, Query(order=(("on", False),)))] == [None, None, False, True]
    assert store.find(WORDS, Query(where={"n": big})) == [rows["t"]]
    assert store.count(WORDS, Query(where={"n": big - 1})) == 0
    assert [r["x"] for r in store.find(WORDS, Query(ranges={"x": (2.5, 3)}, order=(("x", False),)))] == [2.5, 3]
    assert [r["x"] for r in store.find(WORDS, Query(ranges={"x": (None, 0)}))] == [-0.0]


def _put_notes(prefix: str, session: ReadSession) -> None:
    for i in range(40):  # enough for the bulk path
        _put_note(f"{prefix}{i}", session)


@pytest.mark.postgres
def test_postgres_store_carries_on_after_the_server_drops_its_connections(postgres_db_url: str) -> None:
    """A server restart or failover ends every session: the next write and read run on new connections,
    and a bulk write finds its staging table again (temporary tables go with their session)."""
    store = PostgresReadModelStore(postgres_db_url, readers=3)
    try:
        store.ensure((CHATS, NOTES))
        store.apply("p", 1, functools.partial(_put_notes, "a"))
        assert [store.count(NOTES, Query()) for _ in range(3)] == [40, 40, 40]
        with psycopg.connect(postgres_db_url, autocommit=True) as admin:
            ended = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
        assert ended is not None and ended[0] >= 2  # the writer and at least one reader
        assert store.count(NOTES, Query()) == 40 and store.get(NOTES, "a1") == {"title": "a1"}
        store.apply("p", 2, functools.partial(_put_notes, "b"))
        assert store.count(NOTES, Query()) == 80 and store.position("p") == 2
        with psycopg.connect(postgres_db_url) as admin:
            stages = admin.execute(
                "SELECT count(*) FROM pg_class WHERE relname LIKE 'rm\\_stage\\_%' AND relpersistence = 't'"
            ).fetchone()
        assert stages == (2,)  # the new writer session's, for CHATS and NOTES
    finally:
        store.close()

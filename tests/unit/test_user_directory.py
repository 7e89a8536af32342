"""UserDirectory on the real SQLite event store: login cost, throttling, token versions from the log."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from pathlib import Path

import bcrypt
import pytest
import trio

from wamux.adapters.eventlog.recorder_store import RecorderEventStore
from wamux.adapters.eventlog.sqlite import open_sqlite_recorder
from wamux.core.user_directory import UserDirectory
from wamux.domain.clock import FixedClock
from wamux.domain.errors import TooManyAttempts

ROUNDS = 5  # not the 4 of a hard-coded cheap hash: the dummy must follow the configured cost


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[RecorderEventStore]:
    clock = FixedClock(1_700_000_000_000)
    store = RecorderEventStore.over(open_sqlite_recorder(str(tmp_path / "events.db")), clock, provider="sqlite")
    async with trio.open_nursery() as nursery:
        await nursery.start(store.run_writer)
        yield store
        nursery.cancel_scope.cancel()


async def directory(store: RecorderEventStore) -> UserDirectory:
    users = UserDirectory(store, bcrypt_rounds=ROUNDS, clock=FixedClock(0))
    await users.load()
    return users


async def test_an_unknown_email_costs_a_bcrypt_check_of_the_same_cost_in_a_worker_thread(
    store: RecorderEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = await directory(store)
    user, _ = await users.create(email="known@x.io", password="password-1", first_name="K", last_name="N")
    checks: list[tuple[bytes, bool]] = []
    real = bcrypt.checkpw

    def spy(password: bytes, hashed: bytes) -> bool:
        checks.append((hashed, threading.current_thread() is threading.main_thread()))
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", spy)
    assert await users.login("ghost@x.io", "password-1") is None
    assert await users.login("known@x.io", "wrong-password") is None
    assert await users.login("known@x.io", "password-1") == user
    cost = f"$2b${ROUNDS:02d}$".encode()
    assert [hashed[:7] for hashed, _ in checks] == [cost] * 3  # the unknown email too, at the same cost
    assert checks[0][0] != user.password_hash.encode()
    assert not any(on_loop for _, on_loop in checks)  # never on the event loop's thread


async def test_the_eleventh_failure_is_refused_even_with_the_right_password(store: RecorderEventStore) -> None:
    users = await directory(store)
    await users.create(email="a@x.io", password="password-1", first_name="A", last_name="B")
    for _ in range(10):
        assert await users.login(" A@x.io ", "nope-nope", client="10.0.0.1") is None
    with pytest.raises(TooManyAttempts) as refused:
        await users.login("a@x.io", "password-1", client="10.0.0.2")
    assert refused.value.retry_after_s == 15 * 60


async def test_token_version_counts_password_changes_and_is_folded_from_the_log(store: RecorderEventStore) -> None:
    users = await directory(store)
    user, _ = await users.create(email="a@x.io", password="password-1", first_name="A", last_name="B")
    assert user.token_version == 0
    await users.update(user.id, {"firstName": "Renamed"}, as_admin=False)
    await users.rotate_api_key(user.id)
    await users.mark_active({user.id}, "2024-01-01")
    assert users.require(user.id).token_version == 0  # only a password change ends sessions
    await users.update(user.id, {"password": "password-2"}, as_admin=False)
    await users.update(user.id, {"password": "password-2"}, as_admin=True)  # same text, still a change
    assert users.require(user.id).token_version == 2
    reloaded = await directory(store)  # a restart (or a rebuild) folds the same history
    assert reloaded.require(user.id).token_version == 2


async def test_an_admin_password_that_a_later_start_cannot_apply_is_named(store: RecorderEventStore) -> None:
    users = await directory(store)
    assert await users.seed_ignored("admin@x.io", "first-pass") is None  # no user yet: the seed applies
    assert await users.ensure_admin("admin@x.io", "first-pass", "A", "D") is None
    assert await users.seed_ignored("admin@x.io", "first-pass") is None  # the same password: nothing to say
    assert await users.seed_ignored("admin@x.io", None) is None
    changed = await users.seed_ignored("Admin@X.io", "admin123")
    assert changed is not None and "wamux user reset-password admin@x.io" in changed
    other = await users.seed_ignored("boss@x.io", "admin123")
    assert other is not None and "none is boss@x.io" in other

"""LoginThrottle: failures per email and per address in 15-minute windows, bounded memory, injected clock."""

from __future__ import annotations

from wamux.core.login_throttle import LoginThrottle
from wamux.domain.clock import FixedClock

MINUTE = 60_000


def fail(throttle: LoginThrottle, email: str, address: str | None = "10.0.0.1", times: int = 1) -> None:
    for _ in range(times):
        assert throttle.begin(email, address) is None


def test_ten_failures_for_an_email_refuse_the_eleventh_until_the_window_closes() -> None:
    clock = FixedClock(0)
    throttle = LoginThrottle(clock)
    fail(throttle, "a@x.io", times=9)
    clock.advance(5 * MINUTE)
    fail(throttle, "a@x.io")
    assert throttle.begin("a@x.io", "10.0.0.9") == 10 * 60  # the window opened at the first failure
    clock.advance(10 * MINUTE - 1_500)
    assert throttle.begin("a@x.io", None) == 2  # rounded up: never "retry in 0 s"
    assert throttle.begin("b@x.io", "10.0.0.2") is None  # another email is not affected
    clock.advance(1_500)
    assert throttle.begin("a@x.io", "10.0.0.3") is None  # a fresh window


def test_a_success_resets_the_email_and_gives_the_address_its_attempt_back() -> None:
    clock = FixedClock(0)
    throttle = LoginThrottle(clock, per_address=12)
    fail(throttle, "a@x.io", times=9)
    assert throttle.begin("a@x.io", "10.0.0.1") is None
    throttle.succeeded("a@x.io", "10.0.0.1")
    fail(throttle, "a@x.io", times=2)  # 9 + 2 would be refused without the reset
    assert throttle.begin("z@x.io", "10.0.0.1") is None  # 12th attempt of the address: the success was given back
    assert throttle.begin("y@x.io", "10.0.0.1") is not None


def test_fifty_failures_from_one_address_refuse_every_email_from_it() -> None:
    throttle = LoginThrottle(FixedClock(0))
    for i in range(50):
        fail(throttle, f"user{i}@x.io")
    assert throttle.begin("someone-else@x.io", "10.0.0.1") == 15 * 60
    assert throttle.begin("someone-else@x.io", "10.0.0.2") is None
    assert throttle.begin("someone-else@x.io", None) is None  # unknown address: only the email counts


def test_attempts_count_before_the_password_is_checked() -> None:
    """Parallel guesses: each one reserves its failure at once, so the eleventh is refused while ten hash."""
    throttle = LoginThrottle(FixedClock(0))
    started = [throttle.begin("a@x.io", f"10.0.0.{i}") for i in range(11)]
    assert started[:10] == [None] * 10 and started[10] == 15 * 60


def test_memory_is_bounded_and_expired_windows_go_first() -> None:
    clock = FixedClock(0)
    throttle = LoginThrottle(clock, max_keys=100)
    fail(throttle, "old@x.io", address=None, times=10)
    clock.advance(16 * MINUTE)
    fail(throttle, "live@x.io", address=None, times=10)
    fail(throttle, "new@x.io", address=None)
    assert "old@x.io" not in throttle.emails.entries  # expired: pruned as soon as a new window opened
    for i in range(1_000):
        fail(throttle, f"spray{i}@x.io", address=f"192.0.2.{i % 250}")
    assert len(throttle.emails.entries) == 100 and len(throttle.addresses.entries) <= 100
    fail(throttle, "x" * 60_000 + f"@{i}.io", address=None)
    assert max(len(key) for key in throttle.emails.entries) <= 256  # a huge "email" makes no huge key

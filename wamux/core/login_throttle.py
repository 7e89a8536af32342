"""Login throttling: failed logins counted per email and per client address (API-2 §8 "Login").

Each key has a fixed window that opens at its first failure; once a key has `limit` failures
in its window, logins for it are refused until the window closes. Memory is bounded: each
table keeps at most `max_keys` keys, and when it is full the oldest window is forgotten first
(expired windows always go before live ones). Time comes from the injected clock.
"""

from __future__ import annotations

import math
from collections import OrderedDict

from wamux.domain.clock import Clock

PER_EMAIL = 10
PER_ADDRESS = 50
WINDOW_MS = 15 * 60 * 1000
MAX_KEYS = 10_000
MAX_KEY_CHARS = 256  # longer than any valid email: a huge "email" must not make a huge key


class _Windows:
    """Failure counts of one kind of key, ordered by when each window opened (oldest first)."""

    def __init__(self, limit: int, window_ms: int, max_keys: int) -> None:
        self.limit = limit
        self.window_ms = window_ms
        self.max_keys = max_keys
        self.entries: OrderedDict[str, tuple[int, int]] = OrderedDict()  # key -> (opened_ms, failures)

    def blocked_ms(self, key: str, now: int) -> int:
        """How long `key` stays refused (0: not refused)."""
        opened, failures = self.entries.get(key[:MAX_KEY_CHARS], (now, 0))
        if failures < self.limit:
            return 0
        return max(0, opened + self.window_ms - now)

    def add(self, key: str, now: int) -> None:
        key = key[:MAX_KEY_CHARS]
        opened, failures = self.entries.get(key, (now, 0))
        if failures and now - opened < self.window_ms:
            self.entries[key] = (opened, failures + 1)  # same window: keeps its place in the order
            return
        self.entries.pop(key, None)
        # A new window goes to the end, so the front always holds the oldest: prune there.
        while self.entries and (
            len(self.entries) >= self.max_keys or now - next(iter(self.entries.values()))[0] >= self.window_ms
        ):
            self.entries.popitem(last=False)
        self.entries[key] = (now, 1)

    def remove_one(self, key: str) -> None:
        key = key[:MAX_KEY_CHARS]
        opened, failures = self.entries.get(key, (0, 0))
        if failures > 1:
            self.entries[key] = (opened, failures - 1)
        else:
            self.entries.pop(key, None)

    def clear(self, key: str) -> None:
        self.entries.pop(key[:MAX_KEY_CHARS], None)


class LoginThrottle:
    """Refuses logins after too many failures for one email or from one client address.

    An attempt is counted *before* its password is checked (and given back if it succeeds), so
    parallel guesses cannot all slip past the check while the first ones are still hashing.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        per_email: int = PER_EMAIL,
        per_address: int = PER_ADDRESS,
        window_ms: int = WINDOW_MS,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.clock = clock
        self.emails = _Windows(per_email, window_ms, max_keys)
        self.addresses = _Windows(per_address, window_ms, max_keys)

    def begin(self, email: str, address: str | None) -> int | None:
        """Seconds to wait if this attempt is refused; otherwise None, and the attempt counts as failed."""
        now = self.clock.now_ms()
        wait_ms = self.emails.blocked_ms(email, now)
        if address is not None:
            wait_ms = max(wait_ms, self.addresses.blocked_ms(address, now))
        if wait_ms > 0:
            return max(1, math.ceil(wait_ms / 1000))
        self.emails.add(email, now)
        if address is not None:
            self.addresses.add(address, now)
        return None

    def succeeded(self, email: str, address: str | None) -> None:
        """A right password: the email starts afresh and the address gets its attempt back."""
        self.emails.clear(email)
        if address is not None:
            self.addresses.remove_one(address)

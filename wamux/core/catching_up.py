"""Which read models are catching up with the log at start, how far they got, and when they will be there.

A read model is *catching up* when it started this run behind the log's head by more than one batch
(a fresh read-model store, a restore, an upgrade that rebuilt it) and has not yet reached the head it
saw when it started. Lag from live traffic is never catching up: a read then waits for the model as
always. While a model catches up, a read that needs a position it has not reached waits a short bound,
then answers `CatchingUp` (503 with `Retry-After` from the measured rate) instead of stale rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from wamux.domain.errors import CatchingUp


@dataclass
class CatchUp:
    """One read model's catch-up: from `start` to `target` (the head at start), begun at trio time `since`."""

    name: str
    start: int
    target: int
    since: float

    def rate(self, position: int, now: float) -> float:
        """Log positions per second walked so far (0 before the first batch is done)."""
        done = position - self.start
        return done / (now - self.since) if done > 0 and now > self.since else 0.0

    def progress(self, position: int, head: int) -> float:
        """How much of the way to `head` is done, 0 to 1."""
        if head <= self.start:
            return 1.0
        return round(max(0.0, min(1.0, (position - self.start) / (head - self.start))), 4)

    def behind(self, position: int, head: int, now: float) -> CatchingUp:
        """The error of a read that needs `head` while this model is at `position`."""
        rate = self.rate(position, now)
        eta = (head - position) / rate if rate > 0 else None
        return CatchingUp(self.name, position, head, eta, progress=self.progress(position, head))


class CatchUps:
    """The read models catching up in this run (set once, when the positions are read at start)."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold  # behind by more than this at start: catching up (one batch)
        self.active: dict[str, CatchUp] = {}
        self.finished: dict[str, float] = {}  # name -> seconds it took

    def begin(self, positions: dict[str, int], head: int, now: float) -> list[str]:
        """Note every model behind `head` by more than the threshold; answers their names."""
        for name, position in positions.items():
            if head - position > self.threshold:
                self.active[name] = CatchUp(name, position, head, now)
        return list(self.active)

    def restart_clock(self, positions: dict[str, int], now: float) -> None:
        """The models that have not moved yet start now (their rate counts from when they were let go)."""
        for name, catch_up in self.active.items():
            if positions.get(name) == catch_up.start:
                catch_up.since = now

    def get(self, name: str, position: int, now: float) -> CatchUp | None:
        """The model's catch-up while it lasts; None once it reached its target (or never was behind)."""
        catch_up = self.active.get(name)
        if catch_up is None:
            return None
        if position >= catch_up.target:
            del self.active[name]
            self.finished[name] = round(now - catch_up.since, 3)
            return None
        return catch_up

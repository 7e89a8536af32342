"""Keeping the server's long-running loops alive: log an unexpected error, back off, go on.

The webhook dispatcher, its lanes and the projection follower each run their work in steps
through `until_done` (or `forever`): a step that raises is logged with its error and run again
after a capped exponential back-off, so no single failure ends the process. Only these loops
catch; the steps themselves let exceptions escape. Cancellation is never caught.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NoReturn

import trio

from wamux.logs import get_logger

log = get_logger("wamux.supervision")


@dataclass
class Backoff:
    """Capped exponential delays: initial, 2x, 4x ... up to `max_s`; `reset` after a success."""

    initial_s: float = 0.2
    max_s: float = 30.0
    _next_s: float = 0.0

    def next_delay(self) -> float:
        delay = self._next_s or self.initial_s
        self._next_s = min(delay * 2, self.max_s)
        return delay

    def reset(self) -> None:
        self._next_s = 0.0


async def until_done(
    step: Callable[[], Awaitable[None]],
    *,
    what: str,
    backoff: Backoff | None = None,
    on_error: Callable[[Exception], None] | None = None,
    **context: Any,
) -> None:
    """Run `step` until it finishes without an exception; every failure is logged, then retried after a back-off."""
    backoff = backoff or Backoff()
    while True:
        try:
            await step()
        except Exception as exc:  # the supervising loop: anything a step raises is logged and retried
            delay = backoff.next_delay()
            if on_error is not None:
                on_error(exc)
            log.error(f"{what} failed; trying again", error=repr(exc)[:500], retry_in_s=round(delay, 2), **context)
            await trio.sleep(delay)
        else:
            backoff.reset()
            return


async def forever(
    step: Callable[[], Awaitable[None]],
    *,
    what: str,
    backoff: Backoff | None = None,
    on_error: Callable[[Exception], None] | None = None,
    **context: Any,
) -> NoReturn:
    """Run `step` again and again, supervised as in `until_done` (the back-off resets after each success)."""
    backoff = backoff or Backoff()
    while True:
        await until_done(step, what=what, backoff=backoff, on_error=on_error, **context)

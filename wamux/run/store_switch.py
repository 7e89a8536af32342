"""Switching the event store (SQLite, MongoDB, PostgreSQL: any to any) while the server runs.

1. open the target (an empty SQLite file of its own, or the server database, emptied first: MongoDB
   drops the database, PostgreSQL wamux's own tables);
2. copy every event in log order under its own position, in bulk (`store_copy.py`);
3. build every read model in the target from the copied log (all together, one read per batch);
4. copy what was appended meanwhile, again and again, until little is left;
5. pause appends (bounded: only the last few events are copied under the pause), copy the
   tail, let the target's read models catch up, swap the store and read models, persist the
   choice so a restart stays on the new store, resume appends.

Any failure before the swap closes the target and leaves the old store as it was (it is only
ever read from); the caller gets 503 with the reason in one sentence (the host, its password
masked, and the cause), the log the driver's whole error.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from wamux.adapters.eventlog.recorder_store import RecorderEventStore
from wamux.adapters.eventlog.timeline import TimelineRecorder
from wamux.core.ports import Backend, BackendHandle
from wamux.core.projection_runner import ProjectionRunner, ReadModels
from wamux.domain.errors import Conflict, Unavailable, ValidationFailed
from wamux.logs import get_logger
from wamux.projections.ports import ReadModelStore
from wamux.run.config import Settings
from wamux.run.providers import (
    LABELS,
    PROVIDERS,
    driver_reason,
    empty_target,
    mask_url,
    needs_url,
    place,
    url_fits,
    url_rule,
)
from wamux.run.store_copy import STEP_TIMEOUT_S, SwitchFailed, bulk_copy_log, copy_log

log = get_logger("wamux.switch")

TAIL_UNDER_PAUSE = 20  # pause appends only once fewer events than this are left to copy
CATCH_UP_MAX_TAIL = 500  # ... or, when a load outruns the copy, once the gap stops shrinking below this
CATCH_UP_S = 10.0  # ... or when catching up took this long


def failure_reason(error: BaseException, provider: str, url: str | None) -> str:
    """One sentence for why a store could not be used: the database (password masked) and the cause.

    The driver's full error (with pymongo's topology description) belongs in the log only.
    """
    if isinstance(error, SwitchFailed):
        return str(error)
    cause: BaseException | None = error
    for _ in range(10):  # the error and what it was raised from: eventsourcing wraps the driver's errors
        if cause is None:
            break
        if isinstance(cause, trio.TooSlowError):
            return f"the target did not answer within {STEP_TIMEOUT_S:g}s"
        cause = cause.__cause__ or cause.__context__
    reason = driver_reason(error, url)
    if reason is not None:
        return reason
    first = (str(error).strip().splitlines() or [""])[0][:200] or type(error).__name__
    return f"{place(url) if needs_url(provider) else 'the new SQLite file'}: {first}"


def store_url(provider: str, url: str | None, sqlite_path: Path) -> str | None:
    return mask_url(url) if needs_url(provider) else f"file:{sqlite_path}"


@dataclass
class SwitchProgress:
    state: str = "idle"  # idle | copying | building | catching_up | swapping | done | failed
    target: str | None = None
    copied: int = 0
    total: int = 0
    error: str | None = None
    started_at: float | None = None
    duration_ms: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "target": self.target,
            "copied": self.copied,
            "total": self.total,
            "error": self.error,
            "durationMs": self.duration_ms,
        }


@dataclass
class StoreChoice:
    """What DATA_DIR/store-provider.json records after a switch."""

    provider: str
    url: str | None = None
    sqlite_path: str | None = None


def read_choice(settings: Settings) -> StoreChoice | None:
    if not settings.provider_file.is_file():
        return None
    doc = json.loads(settings.provider_file.read_text())
    return StoreChoice(doc["provider"], doc.get("url"), doc.get("sqlitePath"))


def write_choice(settings: Settings, choice: StoreChoice) -> None:
    tmp = settings.provider_file.with_suffix(".tmp")
    tmp.write_text(json.dumps({"provider": choice.provider, "url": choice.url, "sqlitePath": choice.sqlite_path}))
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    tmp.replace(settings.provider_file)


def effective_settings(settings: Settings) -> Settings:
    """The settings with a previous switch's choice applied (it wins over the environment)."""
    choice = read_choice(settings)
    if choice is None:
        return settings
    changes: dict[str, Any] = {
        "database_provider": choice.provider,
        "database_url": choice.url or settings.database_url,
    }
    if choice.sqlite_path:
        changes["sqlite_path"] = Path(choice.sqlite_path)
    return dataclasses.replace(settings, **changes)


def close_backend(recorder: TimelineRecorder | None, rm: ReadModelStore | None) -> None:
    """Close a backend's read models and log (best effort: it may be the thing that broke)."""
    for closable in (rm, getattr(recorder, "datastore", None)):
        try:
            if closable is not None:
                closable.close()
        except Exception as exc:
            log.warning("closing a store", error=repr(exc))


class StoreSwitcher:
    """Owns the live switch for one running server."""

    def __init__(
        self,
        settings: Settings,
        store: RecorderEventStore,
        read_models: ReadModels,
        open_backend: Callable[[Settings, str, str | None], tuple[TimelineRecorder, ReadModelStore]],
        backend: BackendHandle,
        *,
        limiter: trio.CapacityLimiter | None = None,
        mongo_timeout_ms: int = 5000,
    ) -> None:
        self.settings = settings
        self.store = store
        self.read_models = read_models
        self.open_backend = open_backend
        self.backend = backend
        self.limiter = limiter or trio.CapacityLimiter(4)
        self.mongo_timeout_ms = mongo_timeout_ms
        self.progress = SwitchProgress()
        self._lock = trio.Lock()

    def status(self) -> dict[str, Any]:
        s = self.settings
        return {
            "provider": self.store.provider,
            "url": store_url(self.store.provider, s.database_url, s.sqlite_path),
            "events": self.store.head(),
            "switch": self.progress.as_json(),
            # A projection that cannot apply an event stays there and retries; operators see it here.
            "projections": {"stalled": self.read_models.stalled()},
        }

    async def switch(self, provider: str, url: str | None = None) -> dict[str, Any]:
        if provider not in PROVIDERS:
            raise ValidationFailed(f"provider must be one of {', '.join(PROVIDERS)}", details={"provider": "invalid"})
        if self._lock.locked():
            raise Conflict("a store switch is already running")
        async with self._lock:
            return await self._switch(provider, url)

    async def _switch(self, provider: str, url: str | None) -> dict[str, Any]:
        current = self.store.provider
        if not needs_url(provider):
            url = None
        elif not url and url_fits(provider, self.settings.database_url):
            url = self.settings.database_url
        if not url_fits(provider, url) or (needs_url(provider) and not url):
            raise ValidationFailed(
                f"{url_rule(provider)} is required for {LABELS[provider]} (in the body or DATABASE_URL)",
                details={"url": "required"},
            )
        if provider == current and (provider == "sqlite" or url == self.settings.database_url):
            raise Conflict(f"already on {provider}")
        self.progress = SwitchProgress(
            state="copying", target=provider, started_at=time.perf_counter(), total=self.store.head()
        )
        target_settings = self._target_settings(provider, url)
        recorder: TimelineRecorder | None = None
        rm: ReadModelStore | None = None
        try:
            recorder, rm = await trio.to_thread.run_sync(
                self._open_target, target_settings, provider, url, limiter=self.limiter
            )
            assert recorder is not None and rm is not None
            result = await self._copy_and_swap(provider, url, target_settings, recorder, rm)
        except BaseException as exc:
            self.progress.state = "failed"
            self.progress.error = failure_reason(exc, provider, url)
            await trio.to_thread.run_sync(self._discard_target, provider, target_settings, recorder, rm)
            # The answer and the status say it in one sentence; the driver's whole error is for the log.
            log.error("store switch failed", target=provider, reason=self.progress.error, error=repr(exc))
            if isinstance(exc, Exception):
                raise Unavailable(f"switch to {provider} failed, still on {current}: {self.progress.error}") from exc
            raise
        return result

    @staticmethod
    async def _build(building: ReadModels, view: RecorderEventStore) -> None:
        """Bring every target read model up to what was copied so far."""
        view.refresh_head()
        await building.follow()
        stalled = building.stalled()
        if stalled:
            raise SwitchFailed(f"a read model could not be built on the target: {stalled}")

    def _target_settings(self, provider: str, url: str | None) -> Settings:
        if provider == "sqlite":
            stamp = time.strftime("%Y%m%d-%H%M%S")
            path = self.settings.data_dir / f"whatsapp-api-{stamp}.db"
            return dataclasses.replace(self.settings, database_provider="sqlite", sqlite_path=path)
        return dataclasses.replace(self.settings, database_provider=provider, database_url=url)

    def _open_target(self, target: Settings, provider: str, url: str | None) -> tuple[TimelineRecorder, ReadModelStore]:
        empty_target(provider, url, self.mongo_timeout_ms)  # the target is rebuilt from our log, from scratch
        recorder, rm = self.open_backend(target, provider, url)
        if recorder.max_notification_id():
            raise SwitchFailed("the target store is not empty")
        return recorder, rm

    def _discard_target(
        self, provider: str, target: Settings, recorder: TimelineRecorder | None, rm: ReadModelStore | None
    ) -> None:
        close_backend(recorder, rm)
        if provider == "sqlite":
            for path in (target.sqlite_path, target.readmodels_path):
                for suffix in ("", "-wal", "-shm"):
                    Path(str(path) + suffix).unlink(missing_ok=True)

    def _copied(self, position: int) -> None:
        self.progress.copied = position
        self.progress.total = max(self.progress.total, self.store.head())

    async def _copy(self, source: TimelineRecorder, target: TimelineRecorder, after: int) -> int:
        """Copy every event after position `after`; returns the last position copied."""
        return await copy_log(source, target, after, self.limiter, self._copied)

    async def _copy_and_swap(
        self, provider: str, url: str | None, target_settings: Settings, recorder: TimelineRecorder, rm: ReadModelStore
    ) -> dict[str, Any]:
        source = self.store.recorder
        position = await bulk_copy_log(source, recorder, self.limiter, self._copied)

        self.progress.state = "building"
        # Records are copied as they are (secrets stay encrypted); the view reads them with the same key.
        view = RecorderEventStore.over(
            recorder, self.store.clock, provider=provider, limiter=self.limiter, cipher=self.store.cipher
        )
        target = BackendHandle(Backend(provider, recorder, rm, url))
        runners = [
            ProjectionRunner(r.projection, view, target, self.limiter) for r in self.read_models.runners.values()
        ]
        # One reader for every target read model (each batch of the log is read and decoded once).
        building = ReadModels(runners, view, target)
        view.refresh_head()
        try:
            await building.rebuild()
        except Exception as exc:
            reason = failure_reason(exc, provider, url)
            raise SwitchFailed(f"a read model could not be built on the target: {reason}") from exc

        self.progress.state = "catching_up"
        # Copy and project what arrived meanwhile until only a few events are left, so the
        # pause below covers a handful of events (a MongoDB read-model write is a round trip).
        # Under a load that outruns the copy, the gap stops shrinking: then pause anyway once it is
        # small enough (at most CATCH_UP_MAX_TAIL events under the pause), or when the time is up.
        gaps: list[int] = []
        deadline = time.perf_counter() + CATCH_UP_S
        for _ in range(50):
            position = await self._copy(source, recorder, position)
            await self._build(building, view)
            gap = self.store.head() - position
            if gap <= TAIL_UNDER_PAUSE:
                break
            gaps.append(gap)
            stalled = len(gaps) >= 3 and min(gaps[-3:]) >= min(gaps[:-2] or gaps)
            if gap <= CATCH_UP_MAX_TAIL and (stalled or time.perf_counter() > deadline):
                break
            log.info("store switch catching up", copied=position, head=self.store.head())

        self.progress.state = "swapping"
        paused = await self.store.pause()
        pause_started = time.perf_counter()
        marks: dict[str, float] = {}
        try:
            position = await self._copy(source, recorder, position)
            marks["tail"] = time.perf_counter()
            if position != self.store.head():
                raise SwitchFailed(f"copied up to {position} but the log ends at {self.store.head()}")
            await self._build(building, view)
            marks["target_read_models"] = time.perf_counter()
            # The live read models may lag behind the source; it does not matter: the target's are
            # complete, and they take over with their own positions while no batch is in flight.
            async with self.read_models.hold():
                self._swap(provider, url, target_settings, recorder, rm, runners)
        finally:
            paused.release()
        pause_ms = (time.perf_counter() - pause_started) * 1000
        assert self.progress.started_at is not None
        self.progress.duration_ms = round((time.perf_counter() - self.progress.started_at) * 1000, 1)
        self.progress.state = "done"
        log.info(
            "store switched",
            provider=provider,
            events=position,
            pause_ms=round(pause_ms, 1),
            duration_ms=self.progress.duration_ms,
            **{f"{k}_ms": round((v - pause_started) * 1000, 1) for k, v in marks.items()},
        )
        return {
            "success": True,
            "message": f"Database provider switched to {provider}",
            "provider": provider,
            "events": position,
            "durationMs": self.progress.duration_ms,
            "pauseMs": round(pause_ms, 1),
        }

    def _swap(
        self,
        provider: str,
        url: str | None,
        target_settings: Settings,
        recorder: TimelineRecorder,
        rm: ReadModelStore,
        runners: list[ProjectionRunner],
    ) -> None:
        choice = StoreChoice(provider, url, str(target_settings.sqlite_path) if provider == "sqlite" else None)
        write_choice(self.settings, choice)  # first: if this fails, nothing was swapped
        # The one assignment: the event store, the runners, the dispatcher and the queries all read the
        # handle. The old backend is closed once the reads that hold it (in worker threads) are done.
        self.backend.swap(Backend(provider, recorder, rm, url, close=lambda: close_backend(recorder, rm)))
        positions = {r.name: r.position for r in runners}
        for name, runner in self.read_models.runners.items():
            runner.move_to(positions[name])  # what the target's runners reached, under the pause
        self.settings = dataclasses.replace(
            self.settings,
            database_provider=provider,
            database_url=url if needs_url(provider) else self.settings.database_url,
            sqlite_path=target_settings.sqlite_path,
        )

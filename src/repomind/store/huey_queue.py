""":class:`repomind.store.queue.Queue` on huey: one huey per lane (SQLite files in the data dir, or Redis).

The only module that imports huey. Each message kind is a huey task named ``repomind.<kind>`` on its
lane's huey, so producers and consumers in different processes (and messages enqueued by an older
version) agree on the names; the periodic kinds are huey periodic tasks.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey, crontab
from huey.consumer import Consumer

from repomind.store.queue import (
    EVENTS,
    LANE,
    PERIODIC,
    PIPELINE,
    PURGE_RETRIES,
    PURGE_RETRY_S,
    TRAINING,
    Handlers,
    Kind,
    Stop,
)


def make_huey(name: str, *, data_dir: Path, redis_url: str | None) -> Huey:
    """The huey instance for lane ``name``: Redis when a URL is given, else a SQLite file in ``data_dir``."""
    if redis_url:
        return RedisHuey(name, url=redis_url)
    data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name, filename=str(data_dir / f"queue-{name}.db"), timeout=30)


class ThreadConsumer(Consumer):  # type: ignore[misc]
    """A huey consumer whose workers are threads of this process; signals stay with the host process
    (uvicorn in ``repomind serve``, the CLI in ``repomind worker``), so several can run side by side."""

    def _set_signal_handlers(self) -> None:
        return None


class HueyQueue:
    """The job queue over one huey per lane (``events``, ``pipeline``, ``training``)."""

    def __init__(self, lanes: Mapping[str, Huey]) -> None:
        self.lanes = dict(lanes)
        self._handlers: Handlers | None = None
        self._tasks: dict[Kind, Any] = {kind: self._register(kind) for kind in Kind}

    @classmethod
    def open(cls, *, data_dir: Path, redis_url: str | None) -> HueyQueue:
        return cls(
            {n: make_huey(n, data_dir=data_dir, redis_url=redis_url) for n in (EVENTS, PIPELINE, TRAINING)}
        )

    @classmethod
    def in_memory(cls, *, immediate: bool = True) -> HueyQueue:
        """Lanes in this process's memory; ``immediate`` runs each message as it is enqueued (tests)."""
        return cls({n: MemoryHuey(n, immediate=immediate) for n in (EVENTS, PIPELINE, TRAINING)})

    def _register(self, kind: Kind) -> Any:
        huey = self.lanes[LANE[kind]]

        def run(*args: Any) -> None:
            if self._handlers is None:
                raise RuntimeError("this process enqueues only: no worker is attached to the queue")
            self._handlers(kind, *args)

        name = f"repomind.{kind}"
        if kind in PERIODIC:
            return huey.periodic_task(crontab(minute=PERIODIC[kind]), name=name)(run)
        if kind is Kind.PURGE:
            return huey.task(name=name, retries=PURGE_RETRIES, retry_delay=PURGE_RETRY_S)(run)
        return huey.task(name=name)(run)

    def enqueue(self, kind: Kind, *args: Any, delay_s: float = 0.0) -> None:
        if delay_s > 0:
            self._tasks[kind].schedule(args, delay=delay_s)
        else:
            self._tasks[kind](*args)

    def pending(self, lane: str | None = None) -> int:
        lanes = [self.lanes[lane]] if lane is not None else [self.lanes[EVENTS], self.lanes[PIPELINE]]
        return sum(int(h.pending_count()) for h in lanes)

    def consume(self, handlers: Handlers, threads: Mapping[str, int]) -> Stop:
        self._handlers = handlers
        periodic_lanes = {LANE[k] for k in PERIODIC if k in handlers.by_kind}
        consumers = [
            ThreadConsumer(
                self.lanes[lane],
                workers=count,
                worker_type="thread",
                periodic=lane in periodic_lanes,
                initial_delay=0.02,
                backoff=1.5,
                max_delay=0.5,
                check_worker_health=False,
            )
            for lane, count in threads.items()
            if count > 0
        ]
        for one in consumers:
            one.start()

        def stop() -> None:
            for one in consumers:
                one.stop(graceful=True)

        return stop

"""The job queue: huey (SQLite in the data dir, or Redis), carrying only ids that point into the ledger.

A message says "dispatch delivery D" or "run job N"; the ledger decides whether there is anything left to
do, so a duplicated or replayed message is harmless and a lost one is found again by recovery.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from huey import Huey, RedisHuey, SqliteHuey, crontab
from huey.consumer import Consumer

PIPELINE = "pipeline"
TRAINING = "training"
#: Deliveries are dispatched on their own queue, so that long pipeline jobs never hold up a 👀.
EVENTS = "events"
QUEUES = (PIPELINE, TRAINING)


class JobQueue(Protocol):
    """What webhook handlers and the worker enqueue."""

    def enqueue_delivery(self, delivery_id: str, *, delay_s: float = 0.0) -> None:
        """Dispatch the delivery, ``delay_s`` from now (a failed try's backoff)."""
        ...

    def enqueue_job(self, job_id: int) -> None: ...

    def enqueue_training(self, feedback_id: int) -> None: ...

    def enqueue_purge(self, installation_id: int, repos: list[str]) -> None:
        """Delete what the installation (``repos`` empty) or these repositories of it left behind."""
        ...


class TaskTarget(Protocol):
    """The worker's side: what a queue message makes happen (see :class:`repomind.bot.worker.Worker`)."""

    def dispatch(self, delivery_id: str) -> None: ...

    def run_job(self, job_id: int) -> None: ...

    def recover(self) -> None: ...

    def training_ready(self, feedback_id: int) -> None: ...

    def purge(self, installation_id: int, repos: list[str]) -> None: ...

    def sweep(self) -> None: ...


def make_huey(name: str, *, data_dir: Path, redis_url: str | None) -> Huey:
    """The huey instance for queue ``name``: Redis when a URL is given, else a SQLite file in ``data_dir``."""
    if redis_url:
        return RedisHuey(name, url=redis_url)
    data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name, filename=str(data_dir / f"queue-{name}.db"), timeout=30)


class HueyQueue:
    """:class:`JobQueue` over three huey instances (events, pipeline jobs, training); tasks call the
    attached :class:`TaskTarget`."""

    def __init__(self, events: Huey, pipeline: Huey, training: Huey) -> None:
        self.events = events
        self.pipeline = pipeline
        self.training = training
        self._target: TaskTarget | None = None
        self._tasks = self._register()

    def attach(self, target: TaskTarget) -> None:
        """Make this process a worker: queue messages now run ``target``'s methods."""
        self._target = target

    def _require(self) -> TaskTarget:
        if self._target is None:
            raise RuntimeError("this process enqueues only: no worker is attached to the queue")
        return self._target

    def _register(self) -> dict[str, Any]:
        e, p, t = self.events, self.pipeline, self.training

        @e.task(name="repomind.dispatch")  # type: ignore[untyped-decorator]
        def dispatch(delivery_id: str) -> None:
            self._require().dispatch(delivery_id)

        @p.task(name="repomind.run_job")  # type: ignore[untyped-decorator]
        def run_job(job_id: int) -> None:
            self._require().run_job(job_id)

        @p.periodic_task(crontab(minute="*"), name="repomind.recover")  # type: ignore[untyped-decorator]
        def recover() -> None:
            self._require().recover()

        @t.task(name="repomind.training_ready")  # type: ignore[untyped-decorator]
        def training_ready(feedback_id: int) -> None:
            self._require().training_ready(feedback_id)

        @p.task(name="repomind.purge", retries=3, retry_delay=30)  # type: ignore[untyped-decorator]
        def purge(installation_id: int, repos: list[str]) -> None:
            self._require().purge(installation_id, repos)

        @p.periodic_task(crontab(minute="17"), name="repomind.sweep")  # type: ignore[untyped-decorator]
        def sweep() -> None:
            self._require().sweep()

        return {
            "dispatch": dispatch,
            "run_job": run_job,
            "training_ready": training_ready,
            "purge": purge,
        }

    def enqueue_delivery(self, delivery_id: str, *, delay_s: float = 0.0) -> None:
        if delay_s > 0:
            self._tasks["dispatch"].schedule((delivery_id,), delay=delay_s)
        else:
            self._tasks["dispatch"](delivery_id)

    def enqueue_job(self, job_id: int) -> None:
        self._tasks["run_job"](job_id)

    def enqueue_training(self, feedback_id: int) -> None:
        self._tasks["training_ready"](feedback_id)

    def enqueue_purge(self, installation_id: int, repos: list[str]) -> None:
        self._tasks["purge"](installation_id, list(repos))

    def pending(self) -> int:
        return int(self.events.pending_count() + self.pipeline.pending_count())


class ThreadConsumer(Consumer):  # type: ignore[misc]
    """A huey consumer whose workers are threads of this process; signals stay with the host process
    (uvicorn in ``repomind serve``, the CLI in ``repomind worker``), so several can run side by side."""

    def _set_signal_handlers(self) -> None:
        return None


def consumer(huey: Huey, *, workers: int, periodic: bool) -> Consumer:
    return ThreadConsumer(
        huey,
        workers=workers,
        worker_type="thread",
        periodic=periodic,
        initial_delay=0.02,
        backoff=1.5,
        max_delay=0.5,
        check_worker_health=False,
    )

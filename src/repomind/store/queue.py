"""The job queue seam: messages that carry only ids into the store, and the processes that consume them.

A message says "dispatch delivery D", "run job N" or "train job T"; the store (its leased-job engine,
:mod:`repomind.store.jobs`) decides whether there is anything left to do, so a duplicated or replayed
message is harmless and a lost one is found again by recovery. :class:`Queue` is the one Protocol; its
real implementation is huey (:mod:`repomind.store.huey_queue`, made by :func:`open_queue`), its fake
:class:`repomind.testing.queue.FakeQueue`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

#: The lanes: deliveries have their own, so that long pipeline jobs never hold up a 👀; training jobs
#: have theirs, consumed by ``repomind worker --queue training`` (a GPU host).
EVENTS = "events"
PIPELINE = "pipeline"
TRAINING = "training"
#: The lanes a ``repomind worker`` may be asked to consume (``pipeline`` takes ``events`` with it).
QUEUES = (PIPELINE, TRAINING)


class Kind(enum.StrEnum):
    """What a message asks for, with its arguments."""

    DISPATCH = "dispatch"  # (delivery_id: str)
    RUN_JOB = "run_job"  # (job_id: int)
    PURGE = "purge"  # (installation_id: int, repos: list[str]); repos empty: the whole installation
    RECOVER = "recover"  # () periodic: enqueue again what no live worker holds
    SWEEP = "sweep"  # () periodic: delete runs past the retention period
    TRAINING_READY = "training_ready"  # (feedback_id: int)
    TRAIN_JOB = "train_job"  # (training_job_id: int)


#: The lane each kind travels on.
LANE: Mapping[Kind, str] = {
    Kind.DISPATCH: EVENTS,
    Kind.RUN_JOB: PIPELINE,
    Kind.PURGE: PIPELINE,
    Kind.RECOVER: PIPELINE,
    Kind.SWEEP: PIPELINE,
    Kind.TRAINING_READY: TRAINING,
    Kind.TRAIN_JOB: TRAINING,
}
#: Kinds the queue sends by itself, on a cron schedule (the minute field): recovery every minute, the
#: retention sweep hourly. Only a consumer of their lane that handles them runs them.
PERIODIC: Mapping[Kind, str] = {Kind.RECOVER: "*", Kind.SWEEP: "17"}
#: Tries of a purge whose handler raised, ``PURGE_RETRY_S`` apart (deleting is idempotent).
PURGE_RETRIES, PURGE_RETRY_S = 3, 30.0

Handler = Callable[..., None]
#: Stops a consumption: waits for running messages to finish.
Stop = Callable[[], None]


@dataclass(frozen=True)
class Handlers:
    """What a consuming process does with each kind of message (a kind it lacks is refused)."""

    by_kind: Mapping[Kind, Handler]

    def __call__(self, kind: Kind, *args: Any) -> None:
        handler = self.by_kind.get(kind)
        if handler is None:
            lanes = " and ".join(sorted({LANE[k] for k in self.by_kind})) or "no"
            raise RuntimeError(
                f"this process does not handle {kind} messages: it consumes only the {lanes} queue"
            )
        handler(*args)


class Queue(Protocol):
    """Where messages go, and how a worker process consumes them."""

    def enqueue(self, kind: Kind, *args: Any, delay_s: float = 0.0) -> None:
        """Send ``kind(*args)``, due ``delay_s`` from now (a failed try's backoff)."""
        ...

    def pending(self, lane: str | None = None) -> int:
        """Messages waiting on ``lane`` (by default the bot's: ``events`` and ``pipeline``)."""
        ...

    def consume(self, handlers: Handlers, threads: Mapping[str, int]) -> Stop:
        """Make this process a worker: messages now run ``handlers``; ``threads`` says how many worker
        threads consume each lane (none: handle only what runs in this process already)."""
        ...


def open_queue(*, data_dir: Path, redis_url: str | None) -> Queue:
    """The queue of these settings: Redis when a URL is given, else SQLite files in ``data_dir``."""
    from repomind.store.huey_queue import HueyQueue

    return HueyQueue.open(data_dir=data_dir, redis_url=redis_url)


def memory_queue() -> Queue:
    """A queue in this process's memory that runs each message as it is enqueued, once :meth:`Queue.consume`
    gave it handlers (tests)."""
    from repomind.store.huey_queue import HueyQueue

    return HueyQueue.in_memory(immediate=True)

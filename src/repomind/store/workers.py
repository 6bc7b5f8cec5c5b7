"""The worker registry: every ``repomind worker`` (and the worker embedded in ``repomind serve``) says
it is alive in the shared store, so that the Health page shows the workers of every host.

A worker registers when it starts consuming (a row in ``workers``, id ``{host}:{pid}:{random}``), beats
every :data:`BEAT_S` seconds (``last_seen``, and the pipeline job it is running now, found from the
job leases it holds, whose owners start with ``{host}:{pid}:``), and removes its row when it stops
cleanly. A worker killed outright leaves its row behind: the page shows it as stale once it has missed
:data:`STALE_BEATS` beats, and a row silent for :data:`FORGET_S` is deleted by the next worker that
registers.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import DateTime, Integer, String, delete, select, update
from sqlalchemy.orm import Mapped, mapped_column

from repomind.store.models import Base, Job, JobState, utcnow

if TYPE_CHECKING:
    from repomind.store.ledger import Ledger

#: Seconds between two heartbeats of a worker.
BEAT_S = 10.0
#: Beats a worker may miss before the Health page calls it stale.
STALE_BEATS = 3
#: A row silent this long is forgotten (deleted) when another worker registers.
FORGET_S = 7 * 24 * 3600.0


class WorkerRecord(Base):
    """One worker process, as it last said it was."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    current_job: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: The lanes it consumes, comma-separated (``events,pipeline`` or ``training``).
    lanes: Mapped[str] = mapped_column(String(200), default="")


@dataclass(frozen=True)
class WorkerRow:
    """A worker as the Health page shows it."""

    id: str
    host: str
    pid: int
    started_at: datetime
    last_seen: datetime
    current_job: int | None
    lanes: tuple[str, ...]

    def age_s(self, now: datetime | None = None) -> float:
        """Seconds since its last heartbeat."""
        return ((now or datetime.now(UTC)) - _aware(self.last_seen)).total_seconds()

    def stale(self, now: datetime | None = None, beat_s: float = BEAT_S) -> bool:
        return self.age_s(now) > STALE_BEATS * beat_s


def _aware(moment: datetime) -> datetime:
    # SQLite gives back naive datetimes (stored as UTC); PostgreSQL aware ones.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def new_worker_id(host: str | None = None, pid: int | None = None) -> str:
    return f"{host or socket.gethostname()}:{pid if pid is not None else os.getpid()}:{uuid.uuid4().hex[:8]}"


def register(ledger: Ledger, lanes: Sequence[str], *, worker_id: str | None = None) -> str:
    """Add this process as a worker consuming ``lanes``; its id. Rows silent for :data:`FORGET_S` go."""
    worker_id = worker_id or new_worker_id()
    host, pid, _ = worker_id.rsplit(":", 2)
    now = utcnow()
    with ledger.session() as s:
        s.execute(delete(WorkerRecord).where(WorkerRecord.last_seen < now - timedelta(seconds=FORGET_S)))
        s.merge(
            WorkerRecord(
                id=worker_id,
                host=host,
                pid=int(pid),
                started_at=now,
                last_seen=now,
                current_job=None,
                lanes=",".join(lanes),
            )
        )
    return worker_id


def _running_job(ledger: Ledger, worker_id: str) -> int | None:
    """The pipeline job whose lease this worker's process holds (the oldest, when it runs several)."""
    host, pid, _ = worker_id.rsplit(":", 2)
    prefix = f"{host}:{pid}:"
    with ledger.reading() as s:
        query = select(Job.id).where(Job.state == JobState.RUNNING, Job.lease_owner.startswith(prefix))
        return s.scalars(query.order_by(Job.id).limit(1)).first()


def beat(ledger: Ledger, worker_id: str, *, current_job: Any = ...) -> None:
    """Say that ``worker_id`` is alive now, with the job it runs (by default: found from its leases).
    A row that is gone (forgotten, or removed by hand) is made again."""
    job = _running_job(ledger, worker_id) if current_job is ... else current_job
    with ledger.session() as s:
        done = s.execute(
            update(WorkerRecord)
            .where(WorkerRecord.id == worker_id)
            .values(last_seen=utcnow(), current_job=job)
            .execution_options(synchronize_session=False)
        )
        if getattr(done, "rowcount", 1) == 0:
            host, pid, _ = worker_id.rsplit(":", 2)
            s.add(WorkerRecord(id=worker_id, host=host, pid=int(pid), current_job=job, lanes=""))


def unregister(ledger: Ledger, worker_id: str) -> None:
    with ledger.session() as s:
        s.execute(delete(WorkerRecord).where(WorkerRecord.id == worker_id))


def seen(ledger: Ledger) -> list[WorkerRow]:
    """Every worker in the registry, the most recently heard from first."""
    with ledger.reading() as s:
        records = s.scalars(select(WorkerRecord).order_by(WorkerRecord.last_seen.desc())).all()
        return [
            WorkerRow(
                id=r.id,
                host=r.host,
                pid=r.pid,
                started_at=_aware(r.started_at),
                last_seen=_aware(r.last_seen),
                current_job=r.current_job,
                lanes=tuple(lane for lane in r.lanes.split(",") if lane),
            )
            for r in records
        ]


class Heartbeats:
    """Registers a worker, beats from a daemon thread every ``interval_s``, unregisters on :meth:`stop`."""

    def __init__(self, ledger: Ledger, lanes: Sequence[str], *, interval_s: float = BEAT_S) -> None:
        self.ledger = ledger
        self.lanes = tuple(lanes)
        self.interval_s = interval_s
        self.worker_id = new_worker_id()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Heartbeats:
        register(self.ledger, self.lanes, worker_id=self.worker_id)
        self._thread = threading.Thread(target=self._run, name="worker-heartbeat", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        from sqlalchemy.exc import SQLAlchemyError

        from repomind.log import get_logger

        while not self._stop.wait(self.interval_s):
            try:
                beat(self.ledger, self.worker_id)
            except SQLAlchemyError as exc:  # the store is away for a moment: the next beat tries again
                get_logger("repomind.worker").warning("heartbeat failed", error=str(exc))

    def stop(self) -> None:
        """Stop beating and remove this worker's row (a clean stop)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(5.0, self.interval_s))
            self._thread = None
            unregister(self.ledger, self.worker_id)

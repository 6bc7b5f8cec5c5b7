"""The leased-job engine: claim, heartbeat, renew, give up, retry with backoff, recover, for every job table.

A queue message only says "look at job N"; whether there is anything to do is decided here, so a duplicated
message is harmless and a lost one is found again by :meth:`LeasedJobs.recoverable`. A worker claims a job
with a lease (one conditional ``UPDATE``: of several claimers exactly one matches the row, on SQLite and on
PostgreSQL alike) and renews it while it works (:class:`Heartbeat`); a worker that dies leaves a lease that
expires, and the job goes to the next claimer. A failed job is queued again after a doubling backoff while it
has attempts left, then given up (``failed``).

The bot's pipeline jobs (:mod:`repomind.store.ledger`) and the training jobs
(:mod:`repomind.training.ledger`) are two :class:`JobTable` descriptions of their tables on this one engine.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import ColumnElement, and_, or_, select, true, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from repomind.log import get_logger
from repomind.store.models import Base

Clock = Callable[[], float]
M = TypeVar("M", bound=Base)


class Renewal(enum.StrEnum):
    """What a renewal found: go on, stop at the next boundary (cancel requested), or the lease is lost."""

    OK = "ok"
    CANCEL = "cancel"
    LOST = "lost"


class LeaseEnded(Exception):
    """The job must stop at this stage boundary: cancelled, or taken over by another worker."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Sessions(Protocol):
    """Where the engine's transactions come from (:class:`repomind.store.ledger.Ledger`)."""

    def session(self) -> AbstractContextManager[Session]: ...

    def reading(self) -> AbstractContextManager[Session]: ...


@dataclass(frozen=True)
class JobTable(Generic[M]):
    """How one table holds leased jobs: its model, its states and the names of its lease columns.

    Every job table has ``id``, ``state``, ``lease_owner`` and ``lease_expires`` (epoch seconds); the
    optional columns turn on what the table keeps: a claim counter, a bound on attempts, a cancel flag,
    the failures so far, and the time a failed job may be claimed again."""

    model: type[M]
    queued: enum.Enum
    running: enum.Enum
    failed: enum.Enum
    #: Counts claims (each claim is an attempt).
    attempts: str
    #: Bounds ``attempts``: a job tried this many times is not claimed again (None: unbounded).
    max_attempts: str | None = None
    #: A boolean column: a cancel was requested (renewals then answer ``cancel``).
    cancel: str | None = None
    #: A JSON list column: every failure's reason, oldest first.
    failures: str | None = None
    #: Epoch seconds before which a job queued again after a failure is not claimed (its backoff).
    retry_at: str | None = None
    #: Columns set when a job ends (finished or given up), e.g. an "active" key that must be freed.
    ended: Mapping[str, Any] = field(default_factory=dict)

    def column(self, name: str) -> Any:
        return getattr(self.model, name)


#: A check made inside the claim's transaction: True when the job must wait (e.g. behind another job).
Blocked = Callable[[Session, Any, float], bool]


class LeasedJobs(Generic[M]):
    """The lease transitions of one :class:`JobTable`."""

    def __init__(self, sessions: Sessions, table: JobTable[M], *, clock: Clock = time.time) -> None:
        self.sessions = sessions
        self.table = table
        self.clock = clock

    def open(self, existing: Callable[[Session], M | None], new: Callable[[], M]) -> tuple[M, bool]:
        """The job an intent already has (``existing``), or ``new()`` added; ``created`` says which. Two
        openers racing are settled by the table's unique key: the loser finds the winner's job."""
        for _ in range(2):
            try:
                with self.sessions.session() as s:
                    found = existing(s)
                    if found is not None:
                        return found, False
                    job = new()
                    s.add(job)
                    s.flush()
                    return job, True
            except IntegrityError:  # another process opened it between our read and our write
                continue
        raise RuntimeError(f"could not open a job in {self.table.model.__tablename__}")  # pragma: no cover

    def _claimable(self, now: float) -> ColumnElement[bool]:
        """Queued (and past its backoff), or running with an expired lease; attempts left."""
        t, c = self.table, self.table.column
        queued: ColumnElement[bool] = c("state") == t.queued
        if t.retry_at is not None:
            queued = and_(queued, or_(c(t.retry_at).is_(None), c(t.retry_at) <= now))
        expired = and_(c("state") == t.running, c("lease_expires") <= now)
        bounded = c(t.attempts) < c(t.max_attempts) if t.max_attempts is not None else true()
        return and_(bounded, or_(queued, expired))

    def claim(self, job_id: int, owner: str, lease_s: float, *, blocked: Blocked | None = None) -> M | None:
        """Take the job for ``owner`` with a lease of ``lease_s``, or None: finished, held by a live worker,
        backing off, out of attempts, or ``blocked``. One conditional UPDATE decides between claimers."""
        t, c = self.table, self.table.column
        now = self.clock()
        with self.sessions.session() as s:
            job = s.get(t.model, job_id)
            row: Any = job  # a row of any job table: its columns are named by the JobTable
            if job is None or row.state not in (t.queued, t.running):
                return None
            if blocked is not None and blocked(s, job, now):
                return None
            claimed = s.execute(
                update(t.model)
                .where(c("id") == job_id, self._claimable(now))
                .values(
                    {
                        "state": t.running,
                        "lease_owner": owner,
                        "lease_expires": now + lease_s,
                        t.attempts: c(t.attempts) + 1,
                    }
                )
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return None
            s.refresh(job)
            return job

    def renew(self, job_id: int, owner: str, lease_s: float) -> Renewal:
        """Extend ``owner``'s lease: ``ok``, ``cancel`` (stop at the next boundary; the lease is still
        extended so that nobody takes the job while it winds down) or ``lost`` (not ``owner``'s any more)."""
        t, c = self.table, self.table.column
        with self.sessions.session() as s:
            renewed = s.execute(
                update(t.model)
                .where(c("id") == job_id, c("lease_owner") == owner, c("state") == t.running)
                .values(lease_expires=self.clock() + lease_s)
            )
            if renewed.rowcount != 1:  # type: ignore[attr-defined]
                return Renewal.LOST
            if t.cancel is not None and s.scalar(select(c(t.cancel)).where(c("id") == job_id)):
                return Renewal.CANCEL
            return Renewal.OK

    def finish(self, job_id: int, state: enum.Enum, **values: Any) -> None:
        """The job ended in ``state``: its lease is released; ``values`` are recorded with it."""
        c = self.table.column
        with self.sessions.session() as s:
            s.execute(
                update(self.table.model)
                .where(c("id") == job_id)
                .values(state=state, lease_owner=None, lease_expires=None, **{**self.table.ended, **values})
            )

    def fail(self, job_id: int, error: str, *, backoff_s: float = 0.0) -> M:
        """Record the failure; the job is queued again ``backoff_s * 2**(attempts - 1)`` from now while it
        has attempts left, else it is given up (``failed``)."""
        t = self.table
        with self.sessions.session() as s:
            job = self._existing(s, job_id)
            row: Any = job  # a row of any job table: its columns are named by the JobTable
            attempts = int(getattr(job, t.attempts))
            if t.failures is not None:
                stamp = datetime.now(UTC).isoformat(timespec="seconds")
                failure = {"attempt": attempts, "error": error, "at": stamp}
                setattr(job, t.failures, [*getattr(job, t.failures), failure])
            row.error = error
            row.lease_owner = None
            row.lease_expires = None
            retry = t.max_attempts is not None and attempts < int(getattr(job, t.max_attempts))
            row.state = t.queued if retry else t.failed
            if not retry:
                for name, value in t.ended.items():
                    setattr(job, name, value)
            if t.retry_at is not None:
                delay = backoff_s * 2 ** max(attempts - 1, 0)
                setattr(job, t.retry_at, self.clock() + delay if retry and delay > 0 else None)
            s.flush()
            return job

    def _existing(self, s: Session, job_id: int) -> M:
        job = s.get(self.table.model, job_id)
        if job is None:
            raise KeyError(f"no job {job_id} in {self.table.model.__tablename__}")
        return job

    def retry_in(self, job: M) -> float:
        """Seconds until a job queued again after a failure may be claimed (0 when it may be now)."""
        due = getattr(job, self.table.retry_at) if self.table.retry_at is not None else None
        return max(0.0, float(due) - self.clock()) if due is not None else 0.0

    def retry(self, job_id: int, *, extra_attempts: int = 1) -> M:
        """A person's retry: give a failed job ``extra_attempts`` more and queue it again, due now."""
        t = self.table
        with self.sessions.session() as s:
            job = self._existing(s, job_id)
            row: Any = job  # a row of any job table: its columns are named by the JobTable
            if row.state == t.failed:
                if t.max_attempts is not None:
                    setattr(job, t.max_attempts, int(getattr(job, t.attempts)) + extra_attempts)
                if t.retry_at is not None:
                    setattr(job, t.retry_at, None)
                row.state = t.queued
            s.flush()
            return job

    def recoverable(self) -> list[int]:
        """Jobs that no live worker holds and that may be claimed now, oldest first: queued ones, and
        running ones whose worker stopped renewing its lease."""
        c = self.table.column
        with self.sessions.reading() as s:
            rows = s.scalars(select(c("id")).where(self._claimable(self.clock())).order_by(c("id")))
            return [int(r) for r in rows]


class Renews(Protocol):
    def renew(self, job_id: int, owner: str, lease_s: float) -> str: ...


class Heartbeat:
    """Renews a job's lease in the background until the job ends, whatever happens meanwhile: a cancel is
    remembered (and the lease still renewed, so no other worker takes the job while this one winds
    down), a database error is logged and the next beat tries again; only a lost lease (another worker
    has the job) stops the renewing."""

    def __init__(self, jobs: Renews, job_id: int, owner: str, lease_s: float, *, log: Any = None) -> None:
        self._jobs, self._job_id, self._owner, self._lease_s = jobs, job_id, owner, lease_s
        self._log: Any = log or get_logger("repomind.worker")
        self._done = threading.Event()
        self._lock = threading.Lock()
        self.reason: str = Renewal.OK
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{job_id}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._done.wait(max(self._lease_s / 3, 0.01)):
            self.check()

    def check(self) -> str:
        """Renew now; ``ok``, ``cancel`` (sticky: a cancel is never forgotten) or ``lost``."""
        with self._lock:
            if self.reason == Renewal.LOST:
                return self.reason
            try:
                renewed = self._jobs.renew(self._job_id, self._owner, self._lease_s)
            except SQLAlchemyError as exc:  # a transient store error: the next beat renews again
                self._log.warning("lease renewal failed; trying again", job=self._job_id, error=str(exc))
                return self.reason
            if renewed == Renewal.LOST or self.reason == Renewal.OK:
                self.reason = renewed
            return self.reason

    def boundary(self) -> None:
        """A stage boundary: stop here (:class:`LeaseEnded`) when a cancel was requested or the lease lost."""
        if self.check() != Renewal.OK:
            raise LeaseEnded(self.reason)

    def stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=min(self._lease_s, 5.0))

    def __enter__(self) -> Heartbeat:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

"""The run ledger: exactly-once jobs, leases for workers that may die, and the artefacts each job made.

The ledger, not the queue, is the source of truth: a queue message only says "look at job N". A job is
claimed with a lease (the leased-job engine, :mod:`repomind.store.jobs`) that its worker renews at every
stage boundary; a worker that dies leaves a lease that expires, and :meth:`Ledger.recoverable` hands the
job to the next worker, which finds the status comment, branch and PR recorded here (or on GitHub)
instead of making new ones.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from repomind.store.db import make_reader, make_sessions
from repomind.store.jobs import JobTable, LeasedJobs
from repomind.store.limits import over_capacity
from repomind.store.models import Delivery, Job, JobState, Pin

Clock = Callable[[], float]
ACTIVE = (JobState.QUEUED, JobState.RUNNING)
#: The bot's pipeline jobs on the leased-job engine: ``claims`` counts takeovers, a cancel is a flag.
PIPELINE_JOBS = JobTable(
    Job,
    JobState.QUEUED,
    JobState.RUNNING,
    JobState.FAILED,
    attempts="claims",
    cancel="cancel_requested",
    ended={"active_key": None},  # the intent may be asked for again
)


#: Triggers whose intent is some of their arguments only (the rest, such as feedback, may differ).
INTENT_ARGS: dict[str, tuple[str, ...]] = {"ci": ("head_sha",)}


@dataclass(frozen=True)
class JobRequest:
    """A trigger that asks for a pipeline run on an issue."""

    repo: str
    installation_id: int
    issue_number: int
    trigger: str
    command: str
    args: dict[str, Any] = field(default_factory=dict)
    requested_by: str = ""
    delivery_id: str | None = None
    thread_number: int | None = None
    #: The issue's text at the moment the trigger was accepted (kept with the job; not part of the intent).
    issue_title: str | None = None
    issue_body: str | None = None

    @property
    def intent_key(self) -> str:
        """Same repository, issue, command and arguments: the same intent, so at most one active job.
        Hashed to 64 characters: a review or ``revise`` text can be any length, the column cannot. A CI
        revision's intent is its head commit alone (:data:`INTENT_ARGS`): two checks failing on one head at
        once, handled by two workers, are one revision, whatever each one's feedback says."""
        kept = INTENT_ARGS.get(self.trigger)
        args = json.dumps(self.args if kept is None else {k: self.args.get(k) for k in kept}, sort_keys=True)
        return hashlib.sha256(f"{self.repo}#{self.issue_number}:{self.command}:{args}".encode()).hexdigest()


class Ledger:
    """Jobs, deliveries and pins in the store, with the transitions the bot needs."""

    def __init__(self, engine: Engine, *, clock: Clock = time.time) -> None:
        self.engine = engine
        self._sessions = make_sessions(engine)
        self._reader = make_reader(engine)
        self._reads = make_sessions(self._reader)
        #: The leased-job engine on the ``jobs`` table (no retries: a failed run is retried by a person).
        self.leases = LeasedJobs(self, PIPELINE_JOBS, clock=clock)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction that may write (on SQLite it takes the write lock up front)."""
        with self._sessions.begin() as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reads only."""
        with self._reads() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
        self._reader.dispose()

    # -- deliveries -------------------------------------------------------------------------------
    def record_delivery(self, delivery_id: str, event: str, action: str | None, payload: Any) -> bool:
        """Persist a delivery; False when this delivery id was seen before (a redelivery: a no-op)."""
        with self.reading() as r:
            if r.get(Delivery, delivery_id) is not None:
                return False
        try:  # the primary key settles a race between two deliveries of one id
            with self.session() as s:
                s.add(Delivery(id=delivery_id, event=event, action=action, payload=payload))
        except IntegrityError:
            return False
        return True

    def delivery(self, delivery_id: str) -> Delivery | None:
        with self.reading() as s:
            return s.get(Delivery, delivery_id)

    def begin_dispatch(self, delivery_id: str, hold_s: float) -> Delivery | None:
        """Take the delivery for one dispatch, or None: handled already, or being handled, or its next
        try is not due yet. Holds it for ``hold_s`` (recovery waits that long for a worker that died)."""
        now = _now_dt()
        with self.session() as s:
            taken = s.execute(
                update(Delivery)
                .where(
                    Delivery.id == delivery_id,
                    Delivery.dispatched_at.is_(None),
                    or_(Delivery.next_try_at.is_(None), Delivery.next_try_at <= now),
                )
                .values(next_try_at=_now_dt(hold_s))
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                return None
            return s.get(Delivery, delivery_id)

    def mark_dispatched(self, delivery_id: str, error: str | None = None) -> None:
        """Handled (``error`` None), or given up after the last try (``error`` says why)."""
        with self.session() as s:
            s.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id)
                .values(dispatched_at=_now_dt(), error=error, next_try_at=None)
            )

    def dispatch_failed(self, delivery_id: str, error: str, *, retry_in_s: float) -> int:
        """A try failed: count it and make the next one due in ``retry_in_s``; the tries so far."""
        with self.session() as s:
            delivery = s.get(Delivery, delivery_id)
            if delivery is None:
                return 0
            delivery.tries = (delivery.tries or 0) + 1
            delivery.error = error
            delivery.next_try_at = _now_dt(retry_in_s)
            return delivery.tries

    def undispatched(self, older_than_s: float) -> list[str]:
        """Deliveries acknowledged but not handled (their worker died, or the queue lost them), and
        failed ones whose next try has been due for ``older_than_s`` (its queue message was lost)."""
        cutoff = _now_dt(-older_than_s)
        with self.reading() as s:
            rows = s.scalars(
                select(Delivery.id).where(
                    Delivery.dispatched_at.is_(None),
                    or_(
                        Delivery.next_try_at.is_(None) & (Delivery.received_at < cutoff),
                        Delivery.next_try_at < cutoff,
                    ),
                )
            )
            return list(rows)

    # -- jobs -------------------------------------------------------------------------------------
    def open_job(self, request: JobRequest) -> tuple[Job, bool]:
        """The active job for this intent (or this delivery's job), or a new queued one; ``created`` says
        which. The unique ``active_key`` settles a race between two deliveries of one intent."""
        key = request.intent_key

        def existing(s: Session) -> Job | None:
            if request.delivery_id is not None:
                same_delivery = s.scalars(select(Job).where(Job.delivery_id == request.delivery_id)).first()
                if same_delivery is not None:
                    return same_delivery
            return s.scalars(select(Job).where(Job.active_key == key)).first()

        def new() -> Job:
            return Job(
                repo=request.repo,
                installation_id=request.installation_id,
                issue_number=request.issue_number,
                thread_number=request.thread_number,
                trigger=request.trigger,
                command=request.command,
                args=dict(request.args),
                requested_by=request.requested_by,
                issue_title=request.issue_title,
                issue_body=request.issue_body,
                delivery_id=request.delivery_id,
                active_key=key,
                state=JobState.QUEUED,
            )

        return self.leases.open(existing, new)

    def job(self, job_id: int) -> Job:
        with self.reading() as s:
            job = s.get(Job, job_id)
            if job is None:
                raise KeyError(f"no job {job_id}")
            return job

    def jobs_for_issue(self, repo: str, issue_number: int) -> list[Job]:
        with self.reading() as s:
            rows = s.scalars(
                select(Job).where(Job.repo == repo, Job.issue_number == issue_number).order_by(Job.id)
            )
            return list(rows)

    def last_push(self, repo: str, issue_number: int) -> Job | None:
        """The issue's latest job that pushed a commit: its ``branch`` and ``head_sha`` are the branch
        the bot works on for the issue and the commit it last put there."""
        with self.reading() as s:
            return s.scalars(
                select(Job)
                .where(Job.repo == repo, Job.issue_number == issue_number, Job.head_sha.is_not(None))
                .order_by(Job.id.desc())
            ).first()

    def all_jobs(self) -> list[Job]:
        with self.reading() as s:
            return list(s.scalars(select(Job).order_by(Job.id)))

    def claim(
        self, job_id: int, owner: str, lease_s: float, *, max_concurrent: int | None = None
    ) -> Job | None:
        """Take the job for ``owner`` with a lease, or None: finished, held by a live worker, queued
        behind an earlier job on the same issue (jobs of one issue run one at a time, in order), or its
        installation already runs ``max_concurrent`` jobs (it stays queued; checked in the claim's
        transaction under a per-installation lock, so it holds across workers and hosts)."""

        def blocked(s: Session, job: Job, now: float) -> bool:
            if _behind_another(s, job, now):
                return True
            return max_concurrent is not None and over_capacity(s, job, max_concurrent)

        return self.leases.claim(job_id, owner, lease_s, blocked=blocked)

    def renew(self, job_id: int, owner: str, lease_s: float) -> str:
        """Extend the lease (called by the job's heartbeat and at stage boundaries): ``ok``, ``cancel``
        (a cancel was requested: stop at this boundary) or ``lost`` (another worker took the job over)."""
        return self.leases.renew(job_id, owner, lease_s)

    def update_job(self, job_id: int, **values: Any) -> None:
        """Record artefacts as soon as they exist (status_comment_id, branch, pr_number, head_sha, ...)."""
        with self.session() as s:
            s.execute(update(Job).where(Job.id == job_id).values(**values))

    def finish(self, job_id: int, state: JobState, *, error: str | None = None) -> None:
        self.leases.finish(job_id, state, error=error)

    def issue_edited(self, repo: str, issue_number: int, by: str) -> list[int]:
        """Note on the issue's active jobs that ``by`` edited its text after their trigger (ignored)."""
        with self.session() as s:
            jobs = _active_jobs(s, repo, issue_number)
            for job in jobs:
                job.issue_edited_by = by
            return [j.id for j in jobs]

    def next_queued(self, repo: str, issue_number: int) -> int | None:
        with self.reading() as s:
            return s.scalars(
                select(Job.id)
                .where(Job.repo == repo, Job.issue_number == issue_number, Job.state == JobState.QUEUED)
                .order_by(Job.id)
            ).first()

    def request_cancel(self, repo: str, issue_number: int) -> list[Job]:
        """Cancel the issue's active jobs: queued ones at once, running ones at their next stage boundary."""
        with self.session() as s:
            jobs = _active_jobs(s, repo, issue_number)
            for job in jobs:
                job.cancel_requested = True
                if job.state is JobState.QUEUED and job.claims == 0:
                    job.state, job.active_key = JobState.CANCELLED, None
            return jobs

    def cancel_job(self, job_id: int) -> Job | None:
        """Cancel one job as :meth:`request_cancel` does (queued: at once; running: at its next stage
        boundary); None when there is no such job. A job that already ended is returned unchanged."""
        with self.session() as s:
            job = s.get(Job, job_id)
            if job is None or not job.state.active:
                return job
            job.cancel_requested = True
            if job.state is JobState.QUEUED and job.claims == 0:
                job.state, job.active_key = JobState.CANCELLED, None
            return job

    def recoverable(self) -> list[int]:
        """Active jobs that no live worker holds: queued ones, and running ones whose lease expired."""
        return self.leases.recoverable()

    def expired(self) -> list[int]:
        """Running jobs whose worker stopped renewing the lease (died), oldest first; not the queued ones
        (their message is in the queue)."""
        now = self.leases.clock()
        with self.reading() as s:
            query = select(Job.id).where(Job.state == JobState.RUNNING, Job.lease_expires <= now)
            return [int(r) for r in s.scalars(query.order_by(Job.id))]

    # -- pins -------------------------------------------------------------------------------------
    def pin(self, repo: str, issue_number: int, path: str, *, include: bool) -> None:
        with self.session() as s:
            existing = s.scalars(
                select(Pin).where(Pin.repo == repo, Pin.issue_number == issue_number, Pin.path == path)
            ).first()
            if existing is None:
                s.add(Pin(repo=repo, issue_number=issue_number, path=path, include=include))
            else:
                existing.include = include

    def pins(self, repo: str, issue_number: int) -> tuple[list[str], list[str]]:
        """(included paths, excluded paths) pinned on the issue."""
        with self.reading() as s:
            rows: Sequence[Pin] = s.scalars(
                select(Pin).where(Pin.repo == repo, Pin.issue_number == issue_number).order_by(Pin.id)
            ).all()
            return [p.path for p in rows if p.include], [p.path for p in rows if not p.include]


def _now_dt(offset_s: float = 0.0) -> Any:
    from datetime import UTC, datetime, timedelta

    return datetime.now(UTC) + timedelta(seconds=offset_s)


def _behind_another(s: Session, job: Job, now: float) -> bool:
    """Jobs of one issue run one at a time, in order: an earlier active job, or a live one, blocks."""
    blocker = s.scalars(
        select(Job.id).where(
            Job.repo == job.repo,
            Job.issue_number == job.issue_number,
            Job.id != job.id,
            Job.state.in_(ACTIVE),
            or_(Job.id < job.id, Job.lease_expires > now),
        )
    ).first()
    return blocker is not None


def _active_jobs(s: Session, repo: str, issue_number: int) -> list[Job]:
    """The issue's queued and running jobs."""
    query = select(Job).where(Job.repo == repo, Job.issue_number == issue_number, Job.state.in_(ACTIVE))
    return list(s.scalars(query))

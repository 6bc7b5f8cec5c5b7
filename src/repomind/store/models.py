"""The ledger's tables: jobs, their GitHub artefacts and live log, webhook deliveries, pins and feedback."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Enum,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def active(self) -> bool:
        return self in (JobState.QUEUED, JobState.RUNNING)


class Job(Base):
    """One run of the pipeline on one issue, and the GitHub artefacts it made (found again on retry)."""

    __tablename__ = "jobs"
    #: The dashboard's runs list: newest first, by repository or by state (migration 0005).
    __table_args__ = (Index("ix_jobs_repo_id", "repo", "id"), Index("ix_jobs_state_id", "state", "id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    repo: Mapped[str] = mapped_column(String(200), index=True)
    installation_id: Mapped[int] = mapped_column(Integer, index=True)
    issue_number: Mapped[int] = mapped_column(Integer)
    #: The issue or PR where the trigger came from: the status comment goes there.
    thread_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: What started it: ``label``, ``command`` or ``review``.
    trigger: Mapped[str] = mapped_column(String(20))
    #: ``fix``, ``retry`` or ``revise``.
    command: Mapped[str] = mapped_column(String(20))
    args: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    requested_by: Mapped[str] = mapped_column(String(100), default="")
    #: The issue's title and body when the trigger was accepted (``created_at``): the run uses this text,
    #: never a later edit (NULL only for jobs opened before the text was kept).
    issue_title: Mapped[str | None] = mapped_column(Text, nullable=True)
    issue_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Who edited the issue's title or body after the trigger was accepted (the edit is ignored).
    issue_edited_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    delivery_id: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    #: Set while the job is active and NULL afterwards; unique, so that one intent makes one active job.
    #: A SHA-256 of the intent (64 characters), however long the feedback text in it.
    active_key: Mapped[str | None] = mapped_column(String(600), nullable=True, unique=True)
    state: Mapped[JobState] = mapped_column(Enum(JobState, native_enum=False, length=20), index=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    claims: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    #: Epoch seconds after which a running job whose worker stopped renewing its lease may be taken over.
    lease_expires: Mapped[float | None] = mapped_column(Float, nullable=True)
    status_comment_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    branch: Mapped[str | None] = mapped_column(String(200), nullable=True)
    pr_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: The commit this job pushed (its only commit); the next job compares the remote head with it.
    head_sha: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: The commit the pipeline's work tree started from: the diff in ``result`` applies to it.
    base_sha: Mapped[str | None] = mapped_column(String(64), nullable=True)
    bot_diff: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: The pipeline's outcome as JSON (calibrated set, attempts, tokens, cost, evidence).
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class JobEvent(Base):
    """One line of a job's live log: what its status comment said as the run advanced (the run page)."""

    __tablename__ = "job_events"
    #: A run's live log after a given line (the server-sent events; migration 0005).
    __table_args__ = (Index("ix_job_events_job_id_id", "job_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(Integer, index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: ``status`` (the headline), ``stage``, ``localised``, ``attempt`` or ``result``.
    kind: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(Text)


class Delivery(Base):
    """A webhook delivery, persisted before it is acknowledged; the delivery id makes redelivery a no-op."""

    __tablename__ = "deliveries"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    event: Mapped[str] = mapped_column(String(60))
    action: Mapped[str | None] = mapped_column(String(60), nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: Set once handled, or once the last try failed (``error`` then says why).
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Failed tries so far; the next one is due at ``next_try_at`` (also held while a worker dispatches).
    tries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_try_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Pin(Base):
    """``include PATH`` / ``exclude PATH`` on an issue: pins the localisation of its later jobs."""

    __tablename__ = "pins"
    __table_args__ = (UniqueConstraint("repo", "issue_number", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    repo: Mapped[str] = mapped_column(String(200))
    issue_number: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(500))
    include: Mapped[bool] = mapped_column(Boolean)


class Feedback(Base):
    """What maintainers did with a bot PR: merged (accepted) or closed (rejected), for the training queue."""

    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("repo", "pr_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    repo: Mapped[str] = mapped_column(String(200))
    pr_number: Mapped[int] = mapped_column(Integer)
    #: The installation whose repository the PR is in: training keeps each installation's data apart.
    installation_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    issue_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    job_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    merged: Mapped[bool] = mapped_column(Boolean)
    issue_title: Mapped[str] = mapped_column(Text, default="")
    issue_body: Mapped[str] = mapped_column(Text, default="")
    bot_diff: Mapped[str | None] = mapped_column(Text, nullable=True)
    merged_diff: Mapped[str | None] = mapped_column(Text, nullable=True)
    review_comments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    cost_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    consumed: Mapped[bool] = mapped_column(Boolean, default=False)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Artifact(Base):
    """One file of a run (``report.json``, ``trajectory.jsonl``, an attempt's diff …) kept in the shared
    store, so the run page and training read it whichever host ran the job
    (:class:`repomind.store.artifacts.LedgerArtifacts`)."""

    __tablename__ = "artifacts"

    run_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(300), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

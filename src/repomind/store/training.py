"""The training ledger's tables: fine-tuning jobs (one per dataset hash) and the adapter registry.

Registered on the store's :class:`~repomind.store.models.Base`, so that the migrations make them with
the bot's tables; bot and training share the store and never import each other's internals.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import JSON, Boolean, DateTime, Enum, Float, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from repomind.store.models import Base, utcnow

if TYPE_CHECKING:
    from repomind.store.ledger import Ledger

#: ``REPOMIND_TRAINING_SCOPE``: ``installation`` (each installation's data apart) or ``shared``.
ScopeMode = Literal["installation", "shared"]
SHARED = "shared"
INSTALLATION = "installation"


def scope_key(mode: ScopeMode, installation_id: int | None) -> str | None:
    """The scope of data from ``installation_id``; None when it cannot be attributed (never trained on)."""
    if mode == SHARED:
        return SHARED
    if installation_id is None:
        return None
    return f"{INSTALLATION}:{installation_id}"


class TrainingState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class TrainingJob(Base):
    """One fine-tuning job. The dataset hash is unique: asking again for the same data is a no-op."""

    __tablename__ = "training_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_hash: Mapped[str] = mapped_column(String(64), unique=True)
    dataset_path: Mapped[str] = mapped_column(Text)
    base_model: Mapped[str] = mapped_column(Text)
    #: Whose data the dataset holds: ``installation:<id>`` or ``shared`` (see repomind.training.scope).
    scope: Mapped[str] = mapped_column(String(60), index=True, default="shared", server_default="shared")
    #: ``threshold`` (N new examples arrived) or ``demand`` (a person asked).
    reason: Mapped[str] = mapped_column(String(20), default="demand")
    state: Mapped[TrainingState] = mapped_column(
        Enum(TrainingState, native_enum=False, length=20), index=True
    )
    #: Times a worker took the job; a failure with ``attempts < max_attempts`` queues it again.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    lease_owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_expires: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: Epoch seconds before which a job queued again after a failure is not claimed (its backoff).
    retry_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: Every failure's reason, oldest first: [{"attempt", "error", "at"}].
    failures: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    adapter_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Adapter(Base):
    """A trained LoRA adapter: what it was trained on, how it scored, and whether it is the one served."""

    __tablename__ = "adapters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    job_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    dataset_hash: Mapped[str] = mapped_column(String(64), index=True)
    base_model: Mapped[str] = mapped_column(Text)
    #: Whose data trained it, and so whose runs it may serve: ``installation:<id>`` or ``shared``.
    scope: Mapped[str] = mapped_column(String(60), index=True, default="shared", server_default="shared")
    path: Mapped[str] = mapped_column(Text)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    promoted: Mapped[bool] = mapped_column(Boolean, default=False)
    promoted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: Why it was or was not promoted, in a sentence.
    decision: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def served_adapter(
    ledger: Ledger, mode: ScopeMode, installation_id: int, base_model: str | None = None
) -> Adapter | None:
    """The promoted adapter that may serve this installation's runs: one trained on its own data (or,
    when the operator shares, the shared one); never another installation's."""
    scope = scope_key(mode, installation_id)
    if scope is None:
        return None
    with ledger.reading() as s:
        query = select(Adapter).where(Adapter.promoted.is_(True), Adapter.scope == scope)
        if base_model is not None:
            query = query.where(Adapter.base_model == base_model)
        return s.scalars(query.order_by(Adapter.version.desc())).first()

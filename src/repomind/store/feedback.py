"""Feedback from closed bot PRs: what the training queue learns from (accepted or rejected examples)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from repomind.store.ledger import Ledger
from repomind.store.models import Feedback


@dataclass(frozen=True)
class FeedbackRecord:
    repo: str
    pr_number: int
    merged: bool
    installation_id: int | None = None
    issue_number: int | None = None
    job_id: int | None = None
    issue_title: str = ""
    issue_body: str = ""
    bot_diff: str | None = None
    merged_diff: str | None = None
    review_comments: list[dict[str, Any]] = field(default_factory=list)
    cost_usd: float | None = None


def save(ledger: Ledger, record: FeedbackRecord) -> tuple[int, bool]:
    """Store the record once per PR (a redelivered or reopened-and-closed PR updates it); (id, created)."""
    values = dict(record.__dict__)
    with ledger.session() as s:
        row = s.scalars(
            select(Feedback).where(Feedback.repo == record.repo, Feedback.pr_number == record.pr_number)
        ).first()
        created = row is None
        if row is None:
            row = Feedback(**values)
            s.add(row)
        else:
            for key, value in values.items():
                setattr(row, key, value)
            row.consumed = False
        s.flush()
        return row.id, created


def unconsumed(ledger: Ledger) -> list[Feedback]:
    with ledger.reading() as s:
        return list(s.scalars(select(Feedback).where(Feedback.consumed.is_(False)).order_by(Feedback.id)))


def all_feedback(ledger: Ledger) -> list[Feedback]:
    with ledger.reading() as s:
        return list(s.scalars(select(Feedback).order_by(Feedback.id)))

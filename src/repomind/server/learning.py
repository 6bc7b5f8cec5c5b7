"""``GET /learning``: what the bot learnt from its feedback. The training jobs and the adapters they made
(dataset size, the metrics before and after, promoted or not, and why), and the feedback over time as
a chart per repository (:mod:`repomind.server.feedback_plot`).

A person sees the charts of the repositories they can read, and the training jobs and adapters of the
installations one of whose repositories they can read (and the shared ones, which hold no repository's
text on this page); the operator sees everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from repomind.redact import redact
from repomind.server.feedback_plot import SERIES, events, plot
from repomind.server.pages import page
from repomind.server.signin import Access, Viewer
from repomind.server.viewing import readable, viewer_of
from repomind.store import Adapter, Feedback, Job, Ledger, TrainingJob
from repomind.store.training import INSTALLATION, SHARED


@dataclass(frozen=True)
class Scores:
    """Loss and exact match of one model on the eval split (None where the metrics do not say)."""

    loss: float | None
    exact_match: float | None

    @classmethod
    def of(cls, metrics: Any) -> Scores | None:
        if not isinstance(metrics, dict):
            return None
        loss, em = metrics.get("loss"), metrics.get("exact_match")
        return cls(float(loss) if loss is not None else None, float(em) if em is not None else None)


@dataclass(frozen=True)
class TrainingRow:
    id: int
    state: str
    scope: str
    reason: str
    base_model: str
    dataset: str
    train_examples: int | None
    eval_examples: int | None
    before: Scores | None
    after: Scores | None
    adapter: int | None
    promoted: bool | None
    decision: str
    error: str
    created: str


def installation_repos(ledger: Ledger) -> dict[int, set[str]]:
    """The repositories the store knows of each installation (from its jobs and feedback)."""
    repos: dict[int, set[str]] = {}
    with ledger.reading() as s:
        pairs = list(s.execute(select(Job.installation_id, Job.repo).distinct()))
        pairs += list(s.execute(select(Feedback.installation_id, Feedback.repo).distinct()))
    for installation, repo in pairs:
        if installation is not None:
            repos.setdefault(int(installation), set()).add(repo)
    return repos


def visible_scopes(access: Access, viewer: Viewer, ledger: Ledger) -> set[str] | None:
    """The training scopes ``viewer`` may see (None: every one, the operator)."""
    if viewer.operator:
        return None
    by_installation = installation_repos(ledger)
    mine = readable(access, viewer, {r for repos in by_installation.values() for r in repos})
    return {SHARED} | {f"{INSTALLATION}:{i}" for i, repos in by_installation.items() if repos & mine}


def training_rows(ledger: Ledger, scopes: set[str] | None, *, operator: bool) -> list[TrainingRow]:
    with ledger.reading() as s:
        jobs = list(s.scalars(select(TrainingJob).order_by(TrainingJob.id.desc()).limit(200)))
        adapters = {a.id: a for a in s.scalars(select(Adapter))}
    rows = []
    for job in jobs:
        if scopes is not None and job.scope not in scopes:
            continue
        metrics = job.metrics or {}
        adapter = adapters.get(job.adapter_id) if job.adapter_id is not None else None
        rows.append(
            TrainingRow(
                id=job.id,
                state=str(job.state),
                scope=job.scope,
                reason=job.reason,
                base_model=job.base_model,
                dataset=job.dataset_hash[:12],
                train_examples=metrics.get("train_examples"),
                eval_examples=metrics.get("eval_examples"),
                before=Scores.of(metrics.get("current")) or Scores.of(metrics.get("base")),
                after=Scores.of(metrics.get("adapter")),
                adapter=adapter.version if adapter is not None else None,
                promoted=adapter.promoted if adapter is not None else None,
                decision=adapter.decision if adapter is not None else "",
                error=redact(job.error or "") if operator else ("failed" if job.error else ""),
                created=f"{job.created_at:%Y-%m-%d %H:%M}",
            )
        )
    return rows


def adapters_of(ledger: Ledger, scopes: set[str] | None) -> list[Adapter]:
    with ledger.reading() as s:
        found = list(s.scalars(select(Adapter).order_by(Adapter.version.desc()).limit(200)))
    return [a for a in found if scopes is None or a.scope in scopes]


def learning_router(ledger: Ledger, access: Access) -> APIRouter:
    router = APIRouter()

    @router.get("/learning", response_class=HTMLResponse)
    def learning(request: Request) -> HTMLResponse:
        viewer = viewer_of(request)
        scopes = visible_scopes(access, viewer, ledger)
        happened = events(ledger)
        repos = sorted(happened if viewer.operator else readable(access, viewer, happened))
        return page(
            "learning",
            viewer=viewer,
            jobs=training_rows(ledger, scopes, operator=viewer.operator),
            adapters=adapters_of(ledger, scopes),
            plots=[plot(repo, happened[repo]) for repo in repos],
            series=SERIES,
        )

    return router

"""One job's run as its status comment tells it, and the one way it stops: :meth:`BotRun.stop`.

Every text it posts comes from ``templates/`` (``headline``, ``stage``, ``result``, ``job_error``,
``pushed``); the GitHub client redacts what is posted (:func:`repomind.redact.for_github`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from structlog.contextvars import bind_contextvars

from repomind.bot.render import text
from repomind.bot.status import StatusComment
from repomind.store import Job, JobState


class Ending(enum.StrEnum):
    """How a job ends (``RUNNING`` until it does); each has a headline and a result in the templates."""

    RUNNING = "running"
    CANCELLED = "cancelled"
    ERROR = "error"
    CONFIG_INVALID = "config-invalid"
    NEEDS_HINT = "needs-hint"
    PROTECTED_PATHS = "protected-paths"
    NO_PATCH = "no-patch"
    PR_READY = "pr-ready"
    BUDGET_REACHED = "budget-reached"

    @property
    def state(self) -> JobState:
        if self is Ending.PR_READY:
            return JobState.SUCCEEDED
        if self is Ending.CANCELLED:
            return JobState.CANCELLED
        return JobState.FAILED


@dataclass(frozen=True)
class Ended:
    """What the ledger records of a stopped job: its state and, when it failed, why."""

    state: JobState
    error: str | None = None


class BotRun:
    """A claimed job's run: its stage lines while it goes, its ending when it stops."""

    def __init__(self, job: Job, status: StatusComment) -> None:
        self.job = job
        self.status = status
        #: How the run stopped (``RUNNING`` until :meth:`stop`).
        self.ending = Ending.RUNNING

    def start(self) -> None:
        self.status.update(
            headline=text("headline", ending=Ending.RUNNING), stage=text("stage", step="reading")
        )

    def stage(self, step: str) -> None:
        bind_contextvars(stage=step)  # the job's log lines say where it is (repomind.log)
        self.status.update(stage=text("stage", step=step))

    def stop(self, ending: Ending, **facts: Any) -> Ended:
        """Tell the ending on the status comment (headline and result) and, for a failure, the reason the
        ledger records, all from the templates with ``facts``."""
        self.ending = ending
        self.status.update(
            headline=text("headline", ending=ending), stage="", result=text("result", ending=ending, **facts)
        )
        failed = ending.state is JobState.FAILED
        return Ended(ending.state, text("job_error", ending=ending, **facts) if failed else None)


def pushed_note(job: Job) -> str:
    """What the job pushed, for a cancel or error message ("nothing was pushed" only when true)."""
    return text("pushed", job=job)

"""The one status comment per job, created once (or found again by its marker) and edited in place."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

from repomind.bot.github.protocol import GitHub, GitHubError
from repomind.bot.render import marker, render, text
from repomind.bot.solving.outcome import attempt_of
from repomind.bot.solving.pipeline_port import Attempt, PipelineOutcome
from repomind.log import get_logger
from repomind.pipeline.localise.result import Localisation
from repomind.pipeline.solve.account import Step
from repomind.pipeline.solve.events import (
    AgentStarted,
    Localised,
    Reflected,
    RunEvent,
    RunStarted,
    StepTaken,
    describe,
)
from repomind.store import Job, Ledger, add_event

#: Progress lines alone edit the comment at most this often; new findings edit it at once.
MIN_EDIT_INTERVAL_S = 2.0
#: The live log's kind for a job held back by its installation's concurrency limit.
SLOT_EVENT = "slot"
#: The agent's latest steps the comment lists (the run page has them all).
STEP_LINES = 5


@dataclass(frozen=True)
class StatusView:
    headline: str = "⏳ queued"
    stage: str = ""
    localisation: Localisation | None = None
    attempts: tuple[Attempt, ...] = ()
    result: str = ""
    tokens: int = 0
    cost_usd: float | None = None
    model: str = ""
    #: Standing notes shown under the headline (a budget clamped by the server's ceiling, ...).
    notes: tuple[str, ...] = ()
    #: Which issue text the run uses (frozen when the trigger was accepted) and whether it was edited since.
    issue_note: str = ""
    #: The agent's last :data:`STEP_LINES` steps (compact: no thought, no observation) and its step limit.
    steps: tuple[Step, ...] = ()
    max_steps: int = 0
    #: A wait for GitHub's rate limit in progress ("waiting 60 s for GitHub's rate limit"); cleared by
    #: the next update.
    waiting: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def with_outcome(self, outcome: PipelineOutcome) -> StatusView:
        return replace(
            self,
            localisation=outcome.localisation or self.localisation,
            attempts=outcome.attempts or self.attempts,
            tokens=outcome.tokens,
            cost_usd=outcome.cost_usd,
            model=outcome.model,
        )


def find_own_comment(gh: GitHub, repo: str, number: int, job_id: int, *, login: str) -> int | None:
    """The id of this job's status comment if one was posted before (by a worker that then died): a
    comment with the job's marker written by the app itself (``login``). Anyone can copy the marker
    into a comment of their own; such a comment is never adopted."""
    tag = marker(job_id)
    for comment in gh.list_comments(repo, number):
        if comment.author == login and comment.body.startswith(tag):
            return comment.id
    return None


class StatusComment:
    def __init__(self, gh: GitHub, ledger: Ledger, job: Job, *, run_url: str | None, login: str) -> None:
        self._gh = gh
        self._login = login
        self._ledger = ledger
        self._job = job
        self._run_url = run_url
        self._comment_id = job.status_comment_id
        self._last_edit = 0.0
        self.view = StatusView()

    @property
    def thread(self) -> int:
        return self._job.thread_number or self._job.issue_number

    def body(self) -> str:
        v = self.view
        return render(
            "status",
            marker=marker(self._job.id),
            job_id=self._job.id,
            headline=v.headline,
            stage=v.stage,
            notes=v.notes,
            localisation=v.localisation,
            attempts=v.attempts,
            result=v.result,
            tokens=v.tokens,
            cost_usd=v.cost_usd,
            model=v.model,
            run_url=self._run_url,
            issue_note=v.issue_note,
            steps=v.steps,
            max_steps=v.max_steps,
            waiting=v.waiting,
        )

    def ensure(self) -> int:
        """Post the comment unless this job already has one (recorded, or found on GitHub by marker)."""
        if self._comment_id is None:
            self._comment_id = find_own_comment(
                self._gh, self._job.repo, self.thread, self._job.id, login=self._login
            )
            if self._comment_id is None:
                self._comment_id = self._gh.create_comment(self._job.repo, self.thread, self.body()).id
                self._last_edit = time.monotonic()
            self._ledger.update_job(self._job.id, status_comment_id=self._comment_id)
        return self._comment_id

    def update(self, *, force: bool = True, **changes: Any) -> None:
        before = self.view
        self.view = replace(self.view, **{"waiting": "", **changes})
        for kind, message in changed_lines(before, self.view):  # the run page's live log
            add_event(self._ledger, self._job.id, kind, message)
        if not force and time.monotonic() - self._last_edit < MIN_EDIT_INTERVAL_S:
            return
        comment_id = self.ensure()
        self._gh.edit_comment(self._job.repo, comment_id, self.body())
        self._last_edit = time.monotonic()

    def held_back(self, line: str) -> None:
        """The job waits for a free slot of its installation: ``line`` as the comment's stage and as one
        ``slot`` line of the live log (the caller says it once per job: see ``first_event``)."""
        self.view = replace(self.view, stage=line, waiting="")
        add_event(self._ledger, self._job.id, SLOT_EVENT, line)
        self._gh.edit_comment(self._job.repo, self.ensure(), self.body())
        self._last_edit = time.monotonic()

    def rate_limited(self, seconds: float) -> None:
        """GitHub's rate limit holds the job for ``seconds``: say so on the comment and the live log. The
        edit is best effort: GitHub may refuse it for the same limit (the live log has the line anyway)."""
        line = text("stage", step="rate-limit", seconds=seconds)
        try:
            self.update(waiting=line)
        except GitHubError as exc:
            get_logger("repomind.worker").info("could not show the rate-limit wait", error=str(exc))

    def follow(self, event: RunEvent) -> None:
        """The comment as a subscriber of the run's events: the localisation and each attempt at once,
        other progress lines (the agent's steps among them) at most every :data:`MIN_EDIT_INTERVAL_S`."""
        line = describe(event)
        stage = text("stage", step="progress", line=line) if line else ""
        match event:
            case RunStarted(run_id=run_id):  # where the run page finds the run's files while it runs
                add_event(self._ledger, self._job.id, "run", run_id)
            case AgentStarted(max_steps=limit):
                self.update(max_steps=limit, stage=text("stage", step="agent", max_steps=limit), force=False)
            case StepTaken():
                step = Step(event.step, event.tool, event.args, event.outcome, review=event.review)
                self.update(
                    steps=(*self.view.steps, step)[-STEP_LINES:],
                    stage=text("stage", step="agent-step", s=step, max_steps=self.view.max_steps),
                    force=False,
                )
            case Localised(localisation=loc):
                self.update(localisation=loc, stage=text("stage", step="patching"))
            case Reflected(record=record):
                self.update(attempts=(*self.view.attempts, attempt_of(record)), stage=stage)
            case _ if stage:
                self.update(stage=stage, force=False)
            case _:
                pass


def changed_lines(old: StatusView, new: StatusView) -> list[tuple[str, str]]:
    """What changed between two views of the status comment, as live-log lines (kind, message)."""
    lines: list[tuple[str, str]] = []
    if new.headline != old.headline:
        lines.append(("status", new.headline))
    if new.stage and new.stage != old.stage:
        lines.append(("stage", new.stage))
    if new.waiting and new.waiting != old.waiting:
        lines.append(("stage", new.waiting))
    for note in new.notes[len(old.notes) :]:
        lines.append(("stage", note))
    loc = new.localisation
    if loc is not None and loc != old.localisation:
        if loc.set:
            where = f"with {loc.confidence:.0%} confidence the change is in: {', '.join(loc.set)}"
            where += f" ({loc.rests_on().rstrip('.').lower()})" if loc.rests_on() else ""
        else:
            where = f"no calibrated set; the top-ranked files: {', '.join(loc.top(5))}"
        lines.append(("localised", where))
    for a in new.attempts[len(old.attempts) :]:
        lines.append(
            (
                "attempt",
                f"attempt {a.number}: {a.outcome}"
                + (f": {a.summary}" if a.summary else "")
                + f" (tests: {a.tests_passed} passed, {a.tests_failed} failed"
                + (f", {a.tests_skipped} skipped or xfailed)" if a.tests_skipped else ")"),
            )
        )
    if new.result and new.result != old.result:
        lines.append(("result", new.result))
    return lines

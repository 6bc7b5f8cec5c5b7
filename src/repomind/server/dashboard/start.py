"""``POST /api/runs`` and ``POST /api/runs/{id}/cancel``: a run started or cancelled from a script or
another tracker, exactly as the label trigger and the ``cancel`` command do it.

Allowed: the operator token, or a signed-in person with write access (GitHub's collaborator permission,
asked as the installation) to an installed repository. Which installation, if any, GitHub says (asked as
the app: ``GET /repos/{owner}/{repo}/installation``), so a repository installed a minute ago that never had
a run can be driven at once, and one the app was removed from is refused even when the ledger has its runs.
With an issue text the bot opens the issue first (its body says who asked).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import HTTPException

from repomind.bot.commands.options import BotOptions
from repomind.bot.commands.triggers import BotContext, Where, start_job
from repomind.bot.github.protocol import WRITE_LEVELS, GitHub, GitHubError, GitHubFactory
from repomind.bot.render import text
from repomind.bot.status import StatusComment
from repomind.log import get_logger
from repomind.server.dashboard.schemas import RunCreate, RunCreated
from repomind.server.signin import Viewer
from repomind.store import Job, JobState, Ledger
from repomind.store.queue import Queue

T = TypeVar("T")

#: Who a run asked for with the operator token is recorded as.
OPERATOR_LOGIN = "operator"


@dataclass
class Starter:
    ledger: Ledger
    queue: Queue
    options: BotOptions
    #: Made on first use (the web process needs the app's client only for these routes).
    github: Callable[[], GitHubFactory]

    def __post_init__(self) -> None:
        self.log: Any = get_logger("repomind.api")

    def _context(self, installation_id: int) -> BotContext:
        return BotContext(
            github=self.github().for_installation(installation_id),
            queue=self.queue,
            ledger=self.ledger,
            options=self.options,
            log=self.log.bind(installation=installation_id),
        )

    def _may_write(self, gh: GitHub, repo: str, viewer: Viewer) -> None:
        if viewer.operator:
            return
        assert viewer.login is not None
        if _call(lambda: gh.get_permission(repo, viewer.login or "")) not in WRITE_LEVELS:
            raise HTTPException(403, f"starting or cancelling a run needs write access to {repo}")

    def start(self, request: RunCreate, viewer: Viewer) -> RunCreated:
        installation = _call(lambda: self.github().installation_for(request.repository))
        if installation is None:
            raise HTTPException(404, f"{request.repository} is not a repository Repomind is installed on")
        ctx = self._context(installation)
        self._may_write(ctx.github, request.repository, viewer)
        who = viewer.login or OPERATOR_LOGIN
        if request.issue is not None:
            issue = _call(lambda: ctx.github.get_issue(request.repository, request.issue or 0))
            if issue.is_pull_request:
                raise HTTPException(422, f"#{issue.number} is a pull request, not an issue")
            if issue.state != "open":
                raise HTTPException(422, f"issue #{issue.number} is closed")
        else:
            body = (request.body or "").rstrip() + f"\n\n---\nOpened through Repomind's API by {who}."
            issue = _call(
                lambda: ctx.github.create_issue(request.repository, title=request.title or "", body=body)
            )
        where = Where(request.repository, installation, issue.number, issue.number)
        job = start_job(
            ctx,
            where,
            user=who,
            trigger="api",
            command="fix",
            args={},
            issue_text=(issue.title, issue.body),
            permitted=True,
        )
        assert job is not None  # permitted: never refused
        self.log.info("run asked for through the API", job=job.id, repo=request.repository, by=who)
        return RunCreated(id=job.id, url=f"/runs/{job.id}", issue=issue.number)

    def cancel(self, job: Job, viewer: Viewer) -> Job:
        ctx = self._context(job.installation_id)
        self._may_write(ctx.github, job.repo, viewer)
        cancelled = self.ledger.cancel_job(job.id)
        assert cancelled is not None
        if cancelled.state is JobState.CANCELLED and job.state is JobState.QUEUED:
            StatusComment(ctx.github, self.ledger, cancelled, run_url=None, login=self.options.login).update(
                headline=text("headline", ending="cancelled"),
                stage="",
                result=text("result", ending="cancelled-before-start", why="", label=""),
            )
        self.log.info("cancel asked for through the API", job=job.id, by=viewer.login or OPERATOR_LOGIN)
        return cancelled


def _call(call: Callable[[], T]) -> T:
    """A GitHub call; its refusal as the API's answer (404 stays 404, the rest is 502)."""
    try:
        return call()
    except GitHubError as exc:
        if exc.status == 404:
            raise HTTPException(404, "GitHub has no such issue or repository") from None
        if exc.status == 422:
            raise HTTPException(422, f"GitHub refused it: {exc}") from None
        raise HTTPException(502, f"GitHub answered {exc.status or 'nothing'}") from None

"""The GitHub seam: the calls the bot makes, as a small Protocol with plain data in and out.

:class:`repomind.bot.github.client.GithubkitClient` is the real implementation (githubkit over REST);
:class:`repomind.testing.FakeGitHub` keeps the same state in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from repomind.errors import RepomindError

Reaction = Literal["+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"]
#: Permission levels as the collaborator-permission endpoint reports them (maintain reads as write).
WRITE_LEVELS = frozenset({"admin", "maintain", "write"})


class GitHubError(RepomindError):
    """A GitHub API call failed; ``status`` is the HTTP status (0 when it never answered)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Repository:
    full_name: str
    default_branch: str
    clone_url: str
    html_url: str
    private: bool = False


@dataclass(frozen=True)
class Issue:
    number: int
    title: str
    body: str
    author: str
    state: str
    is_pull_request: bool = False
    html_url: str = ""

    @classmethod
    def from_rest(cls, data: dict[str, Any]) -> Issue:
        """An issue (or pull request) as GitHub's REST API returns it."""
        return cls(
            number=int(data["number"]),
            title=data.get("title") or "",
            body=data.get("body") or "",
            author=(data.get("user") or {}).get("login", ""),
            state=data.get("state", "open"),
            is_pull_request=bool(data.get("pull_request")),
            html_url=data.get("html_url", ""),
        )


@dataclass(frozen=True)
class Comment:
    id: int
    body: str
    author: str
    author_type: str = "User"
    html_url: str = ""


@dataclass(frozen=True)
class PullRequest:
    number: int
    title: str
    body: str
    head_ref: str
    head_sha: str
    base_ref: str
    state: str
    draft: bool
    merged: bool
    author: str
    html_url: str = ""
    #: ``owner/name`` of the repository the head branch lives in (a fork's, for a PR from a fork;
    #: "" when GitHub no longer knows it: the fork was deleted).
    head_repo: str = ""


def is_bot_pull(pr: PullRequest, repo: str, login: str) -> bool:
    """The bot's own PR: opened by the app (``login``) from a branch of ``repo`` itself. A PR from a
    fork or by a person is never the bot's, whatever its branch is called."""
    return pr.author == login and pr.head_repo == repo


@dataclass(frozen=True)
class ReviewComment:
    id: int
    body: str
    author: str
    path: str
    line: int | None
    review_id: int | None


@dataclass(frozen=True)
class CheckAnnotation:
    """One annotation of a check run: ``level`` is ``notice``, ``warning`` or ``failure``."""

    path: str
    start_line: int
    end_line: int
    level: str
    message: str
    title: str = ""


@dataclass(frozen=True)
class CheckOutput:
    """A check run's output: GitHub shows ``summary`` and ``text`` as Markdown."""

    title: str
    summary: str
    text: str = ""
    annotations: tuple[CheckAnnotation, ...] = ()


@dataclass(frozen=True)
class CheckRun:
    id: int
    name: str
    head_sha: str
    #: ``queued``, ``in_progress`` or ``completed``; ``conclusion`` is None until completed.
    status: str
    conclusion: str | None
    external_id: str = ""
    #: The slug of the app that made it (``github-actions``, the bot's own slug, ...).
    app_slug: str = ""
    check_suite_id: int | None = None
    output: CheckOutput = CheckOutput("", "")

    @classmethod
    def from_rest(cls, data: dict[str, Any]) -> CheckRun:
        """A check run as GitHub's REST API (and the ``check_run`` webhook) gives it."""
        output = data.get("output") or {}
        return cls(
            id=int(data["id"]),
            name=str(data.get("name") or ""),
            head_sha=str(data.get("head_sha") or ""),
            status=str(data.get("status") or ""),
            conclusion=data.get("conclusion"),
            external_id=str(data.get("external_id") or ""),
            app_slug=str((data.get("app") or {}).get("slug") or ""),
            check_suite_id=(data.get("check_suite") or {}).get("id"),
            output=CheckOutput(
                str(output.get("title") or ""),
                str(output.get("summary") or ""),
                str(output.get("text") or ""),
            ),
        )


@dataclass(frozen=True)
class InstallationToken:
    token: str
    expires_at: datetime


class GitHub(Protocol):
    """One installation's view of GitHub: everything the bot reads and writes."""

    def installation_token(self) -> InstallationToken:
        """A token for git over HTTPS (``x-access-token``); cached until shortly before it expires."""
        ...

    def get_repository(self, repo: str) -> Repository: ...

    def get_permission(self, repo: str, username: str) -> str:
        """``admin``, ``maintain``, ``write``, ``triage``, ``read`` or ``none``."""
        ...

    def get_issue(self, repo: str, number: int) -> Issue: ...

    def create_issue(self, repo: str, *, title: str, body: str) -> Issue:
        """Open an issue as the app (``POST /api/runs`` with an issue text)."""
        ...

    def get_file(self, repo: str, path: str, ref: str) -> str | None:
        """The text of ``path`` at ``ref``, or None when there is no such file."""
        ...

    def add_reaction(
        self, repo: str, content: Reaction, *, issue_number: int | None = None, comment_id: int | None = None
    ) -> None: ...

    def list_comments(self, repo: str, issue_number: int) -> list[Comment]: ...

    def create_comment(self, repo: str, issue_number: int, body: str) -> Comment: ...

    def edit_comment(self, repo: str, comment_id: int, body: str) -> None: ...

    def list_pulls(self, repo: str, *, head: str, state: str = "all") -> list[PullRequest]:
        """Pull requests whose head is ``owner:branch``."""
        ...

    def get_pull(self, repo: str, number: int) -> PullRequest: ...

    def get_pull_diff(self, repo: str, number: int) -> str: ...

    def create_pull(
        self, repo: str, *, title: str, head: str, base: str, body: str, draft: bool = True
    ) -> PullRequest: ...

    def edit_pull(
        self, repo: str, number: int, *, title: str | None = None, body: str | None = None
    ) -> None: ...

    def list_review_comments(self, repo: str, number: int) -> list[ReviewComment]: ...

    def create_check_run(
        self,
        repo: str,
        *,
        name: str,
        head_sha: str,
        status: str,
        external_id: str = "",
        details_url: str | None = None,
        conclusion: str | None = None,
        output: CheckOutput | None = None,
    ) -> CheckRun:
        """A check run on ``head_sha`` (``status`` ``in_progress``, or ``completed`` with ``conclusion``)."""
        ...

    def update_check_run(
        self,
        repo: str,
        check_run_id: int,
        *,
        status: str | None = None,
        conclusion: str | None = None,
        output: CheckOutput | None = None,
    ) -> None:
        """Change a check run; its ``output.annotations`` are added to those it has."""
        ...

    def list_check_runs(self, repo: str, ref: str) -> list[CheckRun]:
        """The latest check runs of every app on a commit (a SHA, branch or tag)."""
        ...

    def list_check_annotations(self, repo: str, check_run_id: int) -> list[CheckAnnotation]: ...


class GitHubFactory(Protocol):
    """Makes the client for an installation (the app's credentials stay inside)."""

    def for_installation(self, installation_id: int) -> GitHub: ...

    def installation_for(self, repo: str) -> int | None:
        """The id of the app's installation on ``repo`` (asked as the app, with its JWT), or None when
        the app is not installed on it (or there is no such repository)."""
        ...

"""Typed webhook events: pydantic models of the fields Repomind uses (everything else is ignored).

GitHub adds fields over time and githubkit's generated models reject payloads that lack newer ones,
so these models ask only for what the handlers read.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class User(_Model):
    login: str
    id: int = 0
    type: str = "User"


class Installation(_Model):
    id: int


class Repository(_Model):
    id: int
    full_name: str
    name: str
    owner: User
    default_branch: str = "main"
    clone_url: str = ""
    html_url: str = ""
    private: bool = False


class Label(_Model):
    name: str


class Issue(_Model):
    number: int
    title: str
    body: str | None = None
    user: User
    state: str = "open"
    labels: list[Label] = Field(default_factory=list)
    #: Present (with URLs) when the "issue" is a pull request.
    pull_request: dict[str, Any] | None = None

    @property
    def is_pull_request(self) -> bool:
        return bool(self.pull_request)


class Comment(_Model):
    id: int
    body: str = ""
    user: User


class Ref(_Model):
    ref: str
    sha: str


class PullRequest(_Model):
    number: int
    title: str
    body: str | None = None
    user: User
    state: str
    head: Ref
    base: Ref
    draft: bool = False
    merged: bool | None = None
    merged_at: str | None = None
    merge_commit_sha: str | None = None

    @property
    def was_merged(self) -> bool:
        return bool(self.merged or self.merged_at)


class Review(_Model):
    id: int
    body: str | None = None
    state: str
    user: User


class Event(_Model):
    """Fields every repository event carries; ``installation`` is there for GitHub App deliveries."""

    action: str | None = None
    sender: User
    repository: Repository | None = None
    installation: Installation | None = None


class IssuesEvent(Event):
    repository: Repository
    issue: Issue
    label: Label | None = None


class IssueCommentEvent(Event):
    repository: Repository
    issue: Issue
    comment: Comment


class PullRequestEvent(Event):
    repository: Repository
    number: int
    pull_request: PullRequest


class PullRequestReviewEvent(Event):
    repository: Repository
    review: Review
    pull_request: PullRequest


class InstallationAccount(_Model):
    id: int
    account: User


class InstallationEvent(Event):
    installation: InstallationAccount  # type: ignore[assignment]
    repositories: list[dict[str, Any]] = Field(default_factory=list)


class InstallationRepositoriesEvent(Event):
    """``installation_repositories``: repositories added to or removed from an installation."""

    installation: InstallationAccount  # type: ignore[assignment]
    repositories_added: list[dict[str, Any]] = Field(default_factory=list)
    repositories_removed: list[dict[str, Any]] = Field(default_factory=list)


class ReviewComment(_Model):
    id: int
    body: str = ""
    user: User
    path: str = ""


class PullRequestReviewCommentEvent(Event):
    """``pull_request_review_comment``: a comment in an inline review thread of a pull request."""

    repository: Repository
    comment: ReviewComment
    pull_request: PullRequest


class CheckApp(_Model):
    id: int = 0
    slug: str = ""


class CheckPull(_Model):
    """A pull request as a check run or suite lists it (only those from a branch of this repository)."""

    number: int


class CheckRunOutput(_Model):
    title: str | None = None
    summary: str | None = None
    text: str | None = None
    annotations_count: int = 0


class CheckRunSuite(_Model):
    id: int


class CheckRun(_Model):
    id: int
    name: str
    head_sha: str
    status: str
    conclusion: str | None = None
    external_id: str | None = None
    app: CheckApp | None = None
    output: CheckRunOutput = Field(default_factory=CheckRunOutput)
    check_suite: CheckRunSuite | None = None
    pull_requests: list[CheckPull] = Field(default_factory=list)


class CheckRunEvent(Event):
    """``check_run``: a check run (any app's: an app with ``checks: write`` gets them all) changed."""

    repository: Repository
    check_run: CheckRun


class CheckSuite(_Model):
    id: int
    head_sha: str
    head_branch: str | None = None
    status: str | None = None
    conclusion: str | None = None
    app: CheckApp | None = None
    pull_requests: list[CheckPull] = Field(default_factory=list)


class CheckSuiteEvent(Event):
    """``check_suite``: all of one app's check runs on a commit, as one verdict."""

    repository: Repository
    check_suite: CheckSuite

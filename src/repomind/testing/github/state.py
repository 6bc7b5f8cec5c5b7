"""GitHub's state in memory, for tests: :class:`GitHubState` holds repositories (bare git repositories on
disk), issues, comments, reactions, pull requests, permissions and installation tokens.

It is the fake behind both seams: :class:`FakeGitHub` implements :class:`repomind.bot.github.protocol.GitHub`
directly, and :class:`repomind.testing.github.server.StandInGitHub` serves it over REST on loopback (JSON
shaped like GitHub's own examples) with git over smart HTTP, so the real githubkit client can be tested.
"""

from __future__ import annotations

import copy
import itertools
import json
import secrets
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from repomind.bot.github.protocol import (
    Comment,
    GitHubError,
    InstallationToken,
    Issue,
    PullRequest,
    Reaction,
    Repository,
    ReviewComment,
)
from repomind.pipeline.localise.history_issues import IssueText, MergedPull
from repomind.sandbox.hostenv import git_env
from repomind.testing.github.checks import CheckRunsState

APP_LOGIN = "repomind[bot]"


@cache
def example(name: str) -> dict[str, Any]:
    """One of GitHub's own example bodies (``data/<operationId>.<status>.json``)."""
    text = resources.files("repomind.testing.github.data").joinpath(f"{name}.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def shaped(name: str, /, **fields: Any) -> dict[str, Any]:
    """GitHub's example ``name`` with ``fields`` put over it (nested dicts are merged)."""
    data = copy.deepcopy(example(name))
    for key, value in fields.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


def _git(git_dir: Path, *args: str, check: bool = True) -> str:
    proc = subprocess.run(
        ["git", "--git-dir", str(git_dir), *args], capture_output=True, text=True, check=False, env=git_env()
    )
    if check and proc.returncode != 0:
        raise GitHubError(f"git {' '.join(args)}: {proc.stderr.strip()}", 422)
    return proc.stdout


@dataclass
class CommentState:
    id: int
    repo: str
    issue_number: int
    body: str
    user: str
    user_type: str = "User"
    #: Every earlier body, oldest first (the comment as it read before each edit).
    history: list[str] = field(default_factory=list)


@dataclass
class RateLimitFault:
    """Requests the stand-in refuses with a rate limit (:meth:`GitHubState.rate_limit`)."""

    method: str
    path_part: str
    times: int
    secondary: bool
    retry_after: int | None
    reset_in: int
    status: int


@dataclass
class IssueState:
    number: int
    title: str
    body: str
    user: str
    state: str = "open"
    labels: list[str] = field(default_factory=list)
    #: Set for pull requests (issues and PRs share numbers, as on GitHub).
    pull: PullState | None = None


@dataclass
class PullState:
    head: str
    base: str
    draft: bool
    merged: bool = False
    merge_commit_sha: str | None = None
    base_before: str | None = None
    merged_at: str | None = None
    #: The repository the head branch lives in, when it is not this one (a fork).
    head_repo: str | None = None


@dataclass
class RepoState:
    full_name: str
    git_dir: Path
    default_branch: str
    id: int
    permissions: dict[str, str] = field(default_factory=dict)
    #: The app's installation on this repository (None: the app is not installed on it).
    installation_id: int | None = 1
    issues: dict[int, IssueState] = field(default_factory=dict)
    review_comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)


#: GitHub refuses a comment or PR body longer than this (422 "body is too long").
MAX_BODY = 65_536


def _check_length(**texts: str) -> None:
    for name, text in texts.items():
        if len(text) > MAX_BODY:
            raise GitHubError(
                f"Validation Failed: {name} is too long (maximum is {MAX_BODY} characters)", 422
            )


class GitHubState(CheckRunsState):
    """Everything a test's GitHub knows. Thread-safe: the stand-in server serves it from threads."""

    def __init__(self, root: Path, *, clone_base: str | None = None) -> None:
        self.root = root
        self.clone_base = clone_base  # e.g. "http://127.0.0.1:PORT" once the git server runs
        self.repos: dict[str, RepoState] = {}
        self.comments: dict[int, CommentState] = {}
        self.reactions: list[dict[str, Any]] = []
        self.tokens: dict[str, tuple[int, datetime]] = {}
        #: Tokens to hand out before random ones (a test that searches for the token plants it first).
        self.planned_tokens: list[str] = []
        self.requests: list[tuple[str, str]] = []
        self.app_login = APP_LOGIN
        self.faults: list[list[Any]] = []
        self.rate_limits: list[RateLimitFault] = []
        self._ids = itertools.count(1000)
        self._check_runs: dict[int, dict[str, Any]] = {}
        self._annotations: dict[int, list[dict[str, Any]]] = {}
        self.lock = threading.RLock()
        # The app's OAuth web flow (sign-in with user-to-server tokens).
        self.oauth_clients: dict[str, str] = {}  # client_id -> client_secret
        self.oauth_codes: dict[str, tuple[str, str, str]] = {}  # code -> (client_id, login, redirect_uri)
        self.user_tokens: dict[str, str] = {}  # token -> login
        #: Who GitHub's authorize page signs in and approves as (None: nobody is signed in to GitHub).
        self.signed_in_as: str | None = None

    # -- set-up by tests --------------------------------------------------------------------------
    def add_repo(
        self, full_name: str, source: Path, *, default_branch: str = "main", installation_id: int | None = 1
    ) -> RepoState:
        """Serve a bare clone of the git repository at ``source`` as ``full_name``, with the app installed
        on it as ``installation_id`` (None: not installed)."""
        git_dir = self.root / "git" / f"{full_name}.git"
        git_dir.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "-q", "--bare", str(source), str(git_dir)], check=True, env=git_env())
        _git(git_dir, "config", "http.receivepack", "true")
        with self.lock:
            state = RepoState(
                full_name, git_dir, default_branch, next(self._ids), installation_id=installation_id
            )
            self.repos[full_name] = state
            return state

    def open_issue(self, repo: str, title: str, body: str, *, user: str = "octocat") -> int:
        with self.lock:
            r = self.repos[repo]
            number = max(r.issues, default=0) + 1
            r.issues[number] = IssueState(number, title, body, user)
            return number

    def open_pull(
        self,
        repo: str,
        *,
        head: str,
        user: str,
        base: str = "main",
        title: str = "A pull request",
        body: str = "",
        head_repo: str | None = None,
    ) -> int:
        """A pull request opened by ``user`` (a person), from ``head`` in ``head_repo`` (a fork) or here."""
        with self.lock:
            r = self._repo(repo)
            number = max(r.issues, default=0) + 1
            pull = PullState(head, base, draft=False, head_repo=head_repo)
            r.issues[number] = IssueState(number, title, body, user, pull=pull)
            return number

    def fail_requests(self, method: str, path_part: str, *, status: int, times: int) -> None:
        """The next ``times`` REST requests whose method is ``method`` and whose path contains
        ``path_part`` answer ``status`` (a GitHub outage, for tests)."""
        with self.lock:
            self.faults.append([method, path_part, status, times])

    def rate_limit(
        self,
        method: str,
        path_part: str,
        *,
        times: int = 1,
        secondary: bool = False,
        retry_after: int | None = None,
        reset_in: int = 60,
        status: int = 403,
    ) -> None:
        """The next ``times`` REST requests whose method is ``method`` and whose path contains
        ``path_part`` are refused as GitHub refuses them: the primary limit (``x-ratelimit-remaining: 0``,
        ``x-ratelimit-reset`` ``reset_in`` seconds from now), or with ``secondary`` a secondary limit
        (its message, and ``retry-after`` when given)."""
        with self.lock:
            self.rate_limits.append(
                RateLimitFault(method, path_part, times, secondary, retry_after, reset_in, status)
            )

    def take_rate_limit(self, method: str, path: str) -> RateLimitFault | None:
        """The rate limit this request runs into, or None (each refusal counts down its ``times``)."""
        with self.lock:
            for fault in self.rate_limits:
                if fault.method == method and fault.path_part in path and fault.times > 0:
                    fault.times -= 1
                    return fault
            return None

    def take_fault(self, method: str, path: str) -> int | None:
        """The status a pending fault makes this request answer, or None."""
        with self.lock:
            for fault in self.faults:
                if fault[0] == method and fault[1] in path and fault[3] > 0:
                    fault[3] -= 1
                    return int(fault[2])
            return None

    def set_permission(self, repo: str, user: str, level: str) -> None:
        with self.lock:
            self.repos[repo].permissions[user] = level

    def comment_as(self, repo: str, number: int, body: str, *, user: str, user_type: str = "User") -> int:
        with self.lock:
            cid = next(self._ids)
            self.comments[cid] = CommentState(cid, repo, number, body, user, user_type)
            return cid

    def add_review_comment(
        self, repo: str, pr: int, *, review_id: int, path: str, line: int, body: str
    ) -> None:
        with self.lock:
            self.repos[repo].review_comments.setdefault(pr, []).append(
                {
                    "id": next(self._ids),
                    "pull_request_review_id": review_id,
                    "path": path,
                    "line": line,
                    "body": body,
                    "user": {"login": "reviewer", "type": "User"},
                }
            )

    def issue_token(self, installation_id: int, *, lifetime_s: float = 3600) -> InstallationToken:
        with self.lock:
            token = self.planned_tokens.pop(0) if self.planned_tokens else "ghs_" + secrets.token_hex(18)
            expires = (datetime.now(UTC) + timedelta(seconds=lifetime_s)).replace(microsecond=0)
            self.tokens[token] = (installation_id, expires)
            return InstallationToken(token, expires)

    def installation_token(self) -> InstallationToken:
        return self.issue_token(1)

    def token_valid(self, token: str) -> bool:
        with self.lock:
            entry = self.tokens.get(token)
            return entry is not None and entry[1] > datetime.now(UTC)

    def branch_sha(self, repo: str, branch: str) -> str | None:
        out = _git(
            self.repos[repo].git_dir, "rev-parse", "--verify", "-q", f"refs/heads/{branch}", check=False
        )
        return out.strip() or None

    def branches(self, repo: str) -> list[str]:
        out = _git(self.repos[repo].git_dir, "for-each-ref", "--format=%(refname:short)", "refs/heads")
        return out.split()

    def merge_pull(self, repo: str, number: int) -> str:
        """Fast-forward or merge the PR's head into its base in the bare repository."""
        with self.lock:
            r = self.repos[repo]
            issue = r.issues[number]
            assert issue.pull is not None
            head = self.branch_sha(repo, issue.pull.head)
            assert head is not None
            issue.pull.base_before = self.branch_sha(repo, issue.pull.base)
            _git(r.git_dir, "update-ref", f"refs/heads/{issue.pull.base}", head)
            issue.pull.merged, issue.pull.merge_commit_sha, issue.state = True, head, "closed"
            issue.pull.merged_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            return head

    def register_oauth_client(self, client_id: str, client_secret: str) -> None:
        with self.lock:
            self.oauth_clients[client_id] = client_secret

    def authorize(self, client_id: str, redirect_uri: str) -> str | None:
        """A code for the person signed in to GitHub, approving ``client_id`` (None: nobody is)."""
        with self.lock:
            if client_id not in self.oauth_clients or self.signed_in_as is None:
                return None
            code = secrets.token_hex(10)
            self.oauth_codes[code] = (client_id, self.signed_in_as, redirect_uri)
            return code

    def exchange_code(self, client_id: str, client_secret: str, code: str, redirect_uri: str | None) -> str:
        """A user token for ``code`` (good once); raises ValueError with GitHub's error code."""
        with self.lock:
            if not secrets.compare_digest(self.oauth_clients.get(client_id, ""), client_secret or "-"):
                raise ValueError("incorrect_client_credentials")
            found = self.oauth_codes.pop(code, None)
            if found is None or found[0] != client_id:
                raise ValueError("bad_verification_code")
            if redirect_uri and redirect_uri != found[2]:
                raise ValueError("redirect_uri_mismatch")
            token = "ghu_" + secrets.token_hex(18)
            self.user_tokens[token] = found[1]
            return token

    def user_for(self, token: str) -> str | None:
        with self.lock:
            return self.user_tokens.get(token)

    def installation_for(self, repo: str) -> int | None:
        with self.lock:
            r = self.repos.get(repo)
            return r.installation_id if r is not None else None

    def user_can_read(self, login: str, repo: str) -> bool:
        with self.lock:
            r = self.repos.get(repo)
            return r is not None and r.permissions.get(login, "none") != "none"

    # -- queries tests assert on ------------------------------------------------------------------
    def comments_on(self, repo: str, number: int) -> list[CommentState]:
        with self.lock:
            return [c for c in self.comments.values() if c.repo == repo and c.issue_number == number]

    def pulls(self, repo: str) -> list[IssueState]:
        with self.lock:
            return [i for i in self.repos[repo].issues.values() if i.pull is not None]

    def clone_url(self, repo: str) -> str:
        if self.clone_base:
            return f"{self.clone_base}/{repo}.git"
        return str(self.repos[repo].git_dir)

    # -- the GitHub protocol's operations, as the app ----------------------------------------------
    def _next_id(self) -> int:
        with self.lock:
            return next(self._ids)

    def _repo_exists(self, repo: str) -> None:
        self._repo(repo)

    def _repo(self, repo: str) -> RepoState:
        try:
            return self.repos[repo]
        except KeyError:
            raise GitHubError("Not Found", 404) from None

    def _issue(self, repo: str, number: int) -> IssueState:
        try:
            return self._repo(repo).issues[number]
        except KeyError:
            raise GitHubError("Not Found", 404) from None

    def get_repository(self, repo: str) -> Repository:
        r = self._repo(repo)
        return Repository(repo, r.default_branch, self.clone_url(repo), f"https://github.com/{repo}")

    def get_permission(self, repo: str, username: str) -> str:
        with self.lock:
            return self._repo(repo).permissions.get(username, "none")

    def get_issue(self, repo: str, number: int) -> Issue:
        i = self._issue(repo, number)
        return Issue(
            i.number,
            i.title,
            i.body,
            i.user,
            i.state,
            i.pull is not None,
            f"https://github.com/{repo}/issues/{number}",
        )

    def get_file(self, repo: str, path: str, ref: str) -> str | None:
        r = self._repo(repo)
        proc = subprocess.run(
            ["git", "--git-dir", str(r.git_dir), "show", f"{ref}:{path}"],
            capture_output=True,
            text=True,
            check=False,
            env=git_env(),
        )
        return proc.stdout if proc.returncode == 0 else None

    def add_reaction(
        self, repo: str, content: Reaction, *, issue_number: int | None = None, comment_id: int | None = None
    ) -> None:
        with self.lock:
            target = {"repo": repo, "issue_number": issue_number, "comment_id": comment_id}
            entry = {**target, "content": content, "user": self.app_login}
            if entry not in self.reactions:  # GitHub answers 200 for a reaction that already exists
                self.reactions.append(entry)

    def list_comments(self, repo: str, issue_number: int) -> list[Comment]:
        self._issue(repo, issue_number)
        return [Comment(c.id, c.body, c.user, c.user_type) for c in self.comments_on(repo, issue_number)]

    def create_issue(self, repo: str, *, title: str, body: str) -> Issue:
        _check_length(title=title, body=body)
        self._repo(repo)
        return self.get_issue(repo, self.open_issue(repo, title, body, user=self.app_login))

    def create_comment(self, repo: str, issue_number: int, body: str) -> Comment:
        self._issue(repo, issue_number)
        _check_length(body=body)
        cid = self.comment_as(repo, issue_number, body, user=self.app_login, user_type="Bot")
        return Comment(cid, body, self.app_login, "Bot")

    def edit_comment(self, repo: str, comment_id: int, body: str) -> None:
        _check_length(body=body)
        with self.lock:
            comment = self.comments.get(comment_id)
            if comment is None or comment.repo != repo:
                raise GitHubError("Not Found", 404)
            comment.history.append(comment.body)
            comment.body = body

    def _pull(self, repo: str, i: IssueState) -> PullRequest:
        assert i.pull is not None
        return PullRequest(
            i.number,
            i.title,
            i.body,
            i.pull.head,
            self.branch_sha(repo, i.pull.head) or "",
            i.pull.base,
            i.state,
            i.pull.draft,
            i.pull.merged,
            i.user,
            f"https://github.com/{repo}/pull/{i.number}",
            head_repo=i.pull.head_repo or repo,
        )

    def list_pulls(self, repo: str, *, head: str, state: str = "all") -> list[PullRequest]:
        """As GitHub filters ``head=owner:branch``: the owner is that of the head's repository."""
        owner, _, branch = head.partition(":")
        return [
            self._pull(repo, i)
            for i in self.pulls(repo)
            if i.pull is not None
            and i.pull.head == branch
            and (i.pull.head_repo or repo).split("/")[0] == owner
            and state in ("all", i.state)
        ]

    def get_pull(self, repo: str, number: int) -> PullRequest:
        i = self._issue(repo, number)
        if i.pull is None:
            raise GitHubError("Not Found", 404)
        return self._pull(repo, i)

    def get_pull_diff(self, repo: str, number: int) -> str:
        """The PR's diff: base...head while open; once merged, what the merge brought into the base."""
        i = self._issue(repo, number)
        if i.pull is None:
            raise GitHubError("Not Found", 404)
        git_dir = self._repo(repo).git_dir
        if i.pull.merged and i.pull.base_before and i.pull.merge_commit_sha:
            return _git(git_dir, "diff", f"{i.pull.base_before}..{i.pull.merge_commit_sha}")
        return _git(git_dir, "diff", f"{i.pull.base}...{i.pull.head}")

    def merged_pulls(self, repo: str) -> Iterator[MergedPull]:
        """Merged pull requests, newest first, with the base commit each was merged onto."""
        for i in sorted(self.pulls(repo), key=lambda i: -i.number):
            if i.pull is not None and i.pull.merged:
                yield MergedPull(i.number, i.title, i.body, i.pull.base_before or "")

    def issue_text(self, repo: str, number: int) -> IssueText:
        i = self._issue(repo, number)
        return IssueText(i.number, i.title, i.body, i.pull is not None)

    def create_pull(
        self, repo: str, *, title: str, head: str, base: str, body: str, draft: bool = True
    ) -> PullRequest:
        _check_length(title=title, body=body)
        with self.lock:
            r = self._repo(repo)
            if self.branch_sha(repo, head) is None:
                raise GitHubError(f"Validation Failed: head {head} does not exist", 422)
            for i in self.pulls(repo):
                if i.pull is not None and i.pull.head == head and i.state == "open":
                    raise GitHubError(f"Validation Failed: A pull request already exists for {head}.", 422)
            number = max(r.issues, default=0) + 1
            r.issues[number] = IssueState(
                number, title, body, self.app_login, pull=PullState(head, base, draft)
            )
            return self._pull(repo, r.issues[number])

    def edit_pull(self, repo: str, number: int, *, title: str | None = None, body: str | None = None) -> None:
        _check_length(title=title or "", body=body or "")
        with self.lock:
            i = self._issue(repo, number)
            if i.pull is None:
                raise GitHubError("Not Found", 404)
            i.title = title if title is not None else i.title
            i.body = body if body is not None else i.body

    def list_review_comments(self, repo: str, number: int) -> list[ReviewComment]:
        with self.lock:
            rows = list(self._repo(repo).review_comments.get(number, []))
        return [
            ReviewComment(
                c["id"], c["body"], c["user"]["login"], c["path"], c["line"], c["pull_request_review_id"]
            )
            for c in rows
        ]


#: The state is itself a :class:`repomind.bot.github.protocol.GitHub` (as the app, for every installation).
FakeGitHub = GitHubState


class FakeGitHubFactory:
    def __init__(self, state: GitHubState) -> None:
        self.state = state

    def for_installation(self, installation_id: int) -> GitHubState:
        return self.state

    def installation_for(self, repo: str) -> int | None:
        return self.state.installation_for(repo)

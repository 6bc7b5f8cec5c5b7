"""The real GitHub client: githubkit over REST, as one installation, reading raw JSON.

Every text it posts (comment bodies, PR titles and bodies) passes through
:func:`repomind.redact.for_github` here, at the edge: redacted, and capped under GitHub's 65,536
characters, whoever composed it.

Rate limits are waited out here too (:mod:`repomind.bot.github.ratelimit`): githubkit's own retry is
left to server errors, so a refused request never sleeps where nobody sees it.

Responses are read with ``.json()`` rather than githubkit's strict models: GitHub's own examples and
real deliveries miss fields those models require (see the fixtures' notes), and the bot uses few fields.
"""

from __future__ import annotations

import base64
import itertools
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

import httpx
from githubkit import GitHub as GithubkitGitHub
from githubkit import TokenAuthStrategy, UnauthAuthStrategy
from githubkit.exception import GitHubException, RequestFailed
from githubkit.retry import RETRY_SERVER_ERROR

from repomind.bot.github.auth import InstallationTokens
from repomind.bot.github.checks_rest import ChecksMixin
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
from repomind.bot.github.ratelimit import RateLimitPolicy, in_report, report_wait, wait_for
from repomind.log import get_logger
from repomind.redact import for_github

if TYPE_CHECKING:
    from repomind.pipeline.localise.history_issues import IssueText, MergedPull

T = TypeVar("T")
PER_PAGE = 100
_log: Any = get_logger("repomind.github")


class TokenSource(Protocol):
    def get(self, installation_id: int) -> InstallationToken: ...


class StaticToken:
    """One token for every request (a personal access token, ``GITHUB_TOKEN``), or none: unauthenticated."""

    def __init__(self, token: str | None) -> None:
        self._token = InstallationToken(token or "", datetime.max.replace(tzinfo=UTC))

    def get(self, installation_id: int) -> InstallationToken:
        return self._token


def _split(repo: str) -> tuple[str, str]:
    owner, _, name = repo.partition("/")
    return owner, name


class GithubkitClient(ChecksMixin):
    """:class:`repomind.bot.github.protocol.GitHub` for one installation; tokens from
    :class:`InstallationTokens` (or :class:`StaticToken`)."""

    def __init__(
        self,
        tokens: TokenSource,
        installation_id: int,
        *,
        base_url: str,
        client_options: dict[str, Any] | None = None,
        rate_limits: RateLimitPolicy | None = None,
    ) -> None:
        self._tokens = tokens
        self._installation_id = installation_id
        self._base_url = base_url
        options = dict(client_options or {})
        if options.get("auto_retry", True) is True:  # githubkit's default would sleep on rate limits
            options["auto_retry"] = RETRY_SERVER_ERROR
        self._options = options
        self._rate_limits = rate_limits or RateLimitPolicy()
        self._client: GithubkitGitHub[Any] | None = None
        self._client_token = ""
        self._lock = threading.Lock()

    def installation_token(self) -> InstallationToken:
        return self._tokens.get(self._installation_id)

    def _gh(self) -> GithubkitGitHub[Any]:
        token = self.installation_token().token
        with self._lock:
            if self._client is None or token != self._client_token:
                auth: Any = TokenAuthStrategy(token) if token else UnauthAuthStrategy()
                self._client = GithubkitGitHub(auth, base_url=self._base_url, **self._options)
                self._client_token = token
            return self._client

    def _send(self, what: str, call: Callable[[GithubkitGitHub[Any]], T]) -> T:
        """``call`` on the client, waiting out GitHub's rate limits; other failures: :class:`GitHubError`."""
        for retry in itertools.count():
            try:
                return call(self._gh())
            except RequestFailed as exc:
                status, message = exc.response.status_code, _message(exc)
                headers = dict(exc.response.raw_response.headers)
                wait = wait_for(status, headers, message, retry, self._rate_limits)
                if wait is None:
                    raise GitHubError(f"GitHub answered {status} to {what}: {message}", status) from exc
                self._wait_out(what, status, message, wait, retry)
            except GitHubException as exc:
                raise GitHubError(f"cannot reach GitHub for {what}: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait_out(self, what: str, status: int, message: str, wait: float, retry: int) -> None:
        policy = self._rate_limits
        refused = f"GitHub's rate limit refused {what} ({status}: {message})"
        if in_report():  # the status comment's own report of a wait: never waits itself
            raise GitHubError(refused, status)
        if retry >= policy.max_retries:
            raise GitHubError(f"{refused}; gave up after {retry + 1} tries", status)
        if wait > policy.max_wait_s:
            longest = f"{policy.max_wait_s:.0f} s"
            raise GitHubError(f"{refused}; it resets in {wait:.0f} s, longer than {longest}", status)
        _log.warning("waiting for GitHub's rate limit", request=what, status=status, wait_s=round(wait, 1))
        report_wait(wait, policy)
        policy.sleep(wait)

    def _json(self, what: str, call: Callable[[GithubkitGitHub[Any]], Any]) -> Any:
        return self._send(what, call).json()

    def _pages(
        self,
        what: str,
        call: Callable[[GithubkitGitHub[Any], int], Any],
        items: Callable[[Any], list[Any]] = list,
    ) -> list[Any]:
        return list(self._iter_pages(what, call, items))

    def _iter_pages(
        self,
        what: str,
        call: Callable[[GithubkitGitHub[Any], int], Any],
        items: Callable[[Any], list[Any]] = list,
    ) -> Iterator[Any]:
        """The items of every page (``items`` finds them in a page's JSON: the page itself, or a field of
        it), a page read only when the caller gets to it."""
        page = 1
        while True:
            batch = items(self._json(what, lambda gh, p=page: call(gh, p)))  # type: ignore[misc]
            yield from batch
            if len(batch) < PER_PAGE:
                return
            page += 1

    def get_repository(self, repo: str) -> Repository:
        data = self._json(f"GET repository {repo}", lambda gh: gh.rest.repos.get(*_split(repo)))
        return Repository(
            full_name=data["full_name"],
            default_branch=data["default_branch"],
            clone_url=data["clone_url"],
            html_url=data.get("html_url", ""),
            private=bool(data.get("private", False)),
        )

    def get_permission(self, repo: str, username: str) -> str:
        try:
            data = self._json(
                f"GET permission of {username}",
                lambda gh: gh.rest.repos.get_collaborator_permission_level(*_split(repo), username),
            )
        except GitHubError as exc:
            if exc.status == 404:  # not a collaborator
                return "none"
            raise
        # role_name distinguishes maintain from write; permission folds maintain into write.
        role = str(data.get("role_name") or "")
        return role if role in ("admin", "maintain", "write", "triage", "read") else str(data["permission"])

    def get_issue(self, repo: str, number: int) -> Issue:
        data = self._json(f"GET issue #{number}", lambda gh: gh.rest.issues.get(*_split(repo), number))
        return Issue.from_rest(data)

    def get_file(self, repo: str, path: str, ref: str) -> str | None:
        try:
            data = self._json(
                f"GET {path}@{ref}", lambda gh: gh.rest.repos.get_content(*_split(repo), path, ref=ref)
            )
        except GitHubError as exc:
            if exc.status == 404:
                return None
            raise
        if not isinstance(data, dict) or data.get("type") != "file":
            return None
        return base64.b64decode(data.get("content") or "").decode("utf-8", errors="replace")

    def add_reaction(
        self, repo: str, content: Reaction, *, issue_number: int | None = None, comment_id: int | None = None
    ) -> None:
        owner, name = _split(repo)
        reactions = "POST reaction " + content
        if comment_id is not None:
            cid = comment_id
            self._send(
                reactions,
                lambda gh: gh.rest.reactions.create_for_issue_comment(owner, name, cid, content=content),
            )
        elif issue_number is not None:
            self._send(
                reactions,
                lambda gh: gh.rest.reactions.create_for_issue(owner, name, issue_number, content=content),
            )
        else:
            raise ValueError("add_reaction needs an issue_number or a comment_id")

    def list_comments(self, repo: str, issue_number: int) -> list[Comment]:
        rows = self._pages(
            f"GET comments of #{issue_number}",
            lambda gh, page: gh.rest.issues.list_comments(
                *_split(repo), issue_number, per_page=PER_PAGE, page=page
            ),
        )
        return [_comment(c) for c in rows]

    def create_issue(self, repo: str, *, title: str, body: str) -> Issue:
        data = self._json(
            "POST issue",
            lambda gh: gh.rest.issues.create(*_split(repo), title=title, body=for_github(body)),
        )
        return Issue.from_rest(data)

    def create_comment(self, repo: str, issue_number: int, body: str) -> Comment:
        data = self._json(
            f"POST comment on #{issue_number}",
            lambda gh: gh.rest.issues.create_comment(*_split(repo), issue_number, body=for_github(body)),
        )
        return _comment(data)

    def edit_comment(self, repo: str, comment_id: int, body: str) -> None:
        self._json(
            f"PATCH comment {comment_id}",
            lambda gh: gh.rest.issues.update_comment(*_split(repo), comment_id, body=for_github(body)),
        )

    def list_pulls(self, repo: str, *, head: str, state: str = "all") -> list[PullRequest]:
        rows = self._pages(
            f"GET pulls with head {head}",
            lambda gh, page: gh.rest.pulls.list(
                *_split(repo),
                state=cast(Any, state),
                head=head,
                per_page=PER_PAGE,
                page=page,
            ),
        )
        return [_pull(p) for p in rows]

    def get_pull(self, repo: str, number: int) -> PullRequest:
        return _pull(self._json(f"GET pull #{number}", lambda gh: gh.rest.pulls.get(*_split(repo), number)))

    def get_pull_diff(self, repo: str, number: int) -> str:
        resp = self._send(
            f"GET diff of pull #{number}",
            lambda gh: gh.request(
                "GET", f"/repos/{repo}/pulls/{number}", headers={"Accept": "application/vnd.github.diff"}
            ),
        )
        return str(resp.raw_response.text)

    def merged_pulls(self, repo: str) -> Iterator[MergedPull]:
        """Merged pull requests, newest first, a page at a time (for calibration data)."""
        from repomind.pipeline.localise.history_issues import MergedPull

        rows = self._iter_pages(
            "GET closed pulls",
            lambda gh, page: gh.rest.pulls.list(
                *_split(repo), state="closed", sort="created", direction="desc", per_page=PER_PAGE, page=page
            ),
        )
        for p in rows:
            if p.get("merged_at"):
                yield MergedPull(p["number"], p.get("title") or "", p.get("body") or "", p["base"]["sha"])

    def issue_text(self, repo: str, number: int) -> IssueText:
        from repomind.pipeline.localise.history_issues import IssueText

        issue = self.get_issue(repo, number)
        return IssueText(issue.number, issue.title, issue.body, issue.is_pull_request)

    def create_pull(
        self, repo: str, *, title: str, head: str, base: str, body: str, draft: bool = True
    ) -> PullRequest:
        data = self._json(
            f"POST pull {head} -> {base}",
            lambda gh: gh.rest.pulls.create(
                *_split(repo),
                title=for_github(title),
                head=head,
                base=base,
                body=for_github(body),
                draft=draft,
            ),
        )
        return _pull(data)

    def edit_pull(self, repo: str, number: int, *, title: str | None = None, body: str | None = None) -> None:
        fields = {k: for_github(v) for k, v in (("title", title), ("body", body)) if v is not None}
        self._json(
            f"PATCH pull #{number}",
            lambda gh: gh.rest.pulls.update(*_split(repo), number, data=cast(Any, fields)),
        )

    def list_review_comments(self, repo: str, number: int) -> list[ReviewComment]:
        rows = self._pages(
            f"GET review comments of #{number}",
            lambda gh, page: gh.rest.pulls.list_review_comments(
                *_split(repo), number, per_page=PER_PAGE, page=page
            ),
        )
        return [
            ReviewComment(
                id=c["id"],
                body=c.get("body") or "",
                author=(c.get("user") or {}).get("login", ""),
                path=c.get("path", ""),
                line=c.get("line"),
                review_id=c.get("pull_request_review_id"),
            )
            for c in rows
        ]


def _message(exc: RequestFailed) -> str:
    try:
        data = exc.response.json()
    except ValueError:
        return str(exc.response.raw_response.text[:200])
    return str(data.get("message", "")) if isinstance(data, dict) else ""


def _comment(data: dict[str, Any]) -> Comment:
    user = data.get("user") or {}
    return Comment(
        id=data["id"],
        body=data.get("body") or "",
        author=user.get("login", ""),
        author_type=user.get("type", "User"),
        html_url=data.get("html_url", ""),
    )


def _pull(data: dict[str, Any]) -> PullRequest:
    return PullRequest(
        number=data["number"],
        title=data.get("title") or "",
        body=data.get("body") or "",
        head_ref=data["head"]["ref"],
        head_sha=data["head"].get("sha", ""),
        base_ref=data["base"]["ref"],
        state=data.get("state", "open"),
        draft=bool(data.get("draft", False)),
        merged=bool(data.get("merged") or data.get("merged_at")),
        author=(data.get("user") or {}).get("login", ""),
        html_url=data.get("html_url", ""),
        head_repo=str((data["head"].get("repo") or {}).get("full_name") or ""),
    )


class GithubkitFactory:
    """Clients per installation, sharing one token cache (the app's private key stays in here)."""

    def __init__(
        self,
        app_id: str,
        private_key: str,
        *,
        base_url: str,
        client_options: dict[str, Any] | None = None,
        rate_limits: RateLimitPolicy | None = None,
    ) -> None:
        # One TLS context for every request: githubkit opens an httpx client per request, and httpx would
        # otherwise load the CA bundle each time (tens of milliseconds of CPU per GitHub call).
        self._options = {"ssl_verify": httpx.create_ssl_context(), **(client_options or {})}
        self._base_url = base_url
        self._rate_limits = rate_limits
        self.tokens = InstallationTokens(app_id, private_key, base_url=base_url, client_options=self._options)

    def for_installation(self, installation_id: int) -> GithubkitClient:
        return GithubkitClient(
            self.tokens,
            installation_id,
            base_url=self._base_url,
            client_options=self._options,
            rate_limits=self._rate_limits,
        )

    def installation_for(self, repo: str) -> int | None:
        return self.tokens.installation_for(repo)

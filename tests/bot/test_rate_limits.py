"""The real GitHub client waits out GitHub's rate limits as GitHub documents them, against the stand-in
GitHub answering them: the primary limit until ``x-ratelimit-reset``, a secondary one for ``retry-after``
or with a doubling backoff, and it gives up past its cap. Sleeping is injected: the tests do not wait."""

from __future__ import annotations

import time

import pytest

from repomind.bot.github.client import GithubkitClient, GithubkitFactory
from repomind.bot.github.protocol import GitHubError
from repomind.bot.github.ratelimit import RateLimitPolicy, reporting_waits, wait_for
from repomind.testing import StandInGitHub
from tests.bot.helpers import REPO


def _client(github: StandInGitHub, policy: RateLimitPolicy) -> GithubkitClient:
    factory = GithubkitFactory(
        github.app_id,
        github.private_key,
        base_url=github.url,
        client_options={"http_cache": False},
        rate_limits=policy,
    )
    return factory.for_installation(77)


def _tries(github: StandInGitHub, path: str) -> int:
    return sum(1 for method, p in github.state.requests if method == "GET" and p == path)


def test_the_primary_limit_is_waited_out_until_its_reset(github: StandInGitHub) -> None:
    slept: list[float] = []
    gh = _client(github, RateLimitPolicy(sleep=slept.append))
    github.state.rate_limit("GET", f"/repos/{REPO}/issues/1", times=2, reset_in=30)
    before = time.time()
    assert gh.get_issue(REPO, 1).title == "add() subtracts"
    assert len(slept) == 2 and all(29 <= s <= 32 for s in slept)  # until x-ratelimit-reset, plus a second
    assert _tries(github, f"/repos/{REPO}/issues/1") == 3 and time.time() - before < 10


def test_a_secondary_limit_waits_its_retry_after_or_backs_off(github: StandInGitHub) -> None:
    slept: list[float] = []
    gh = _client(github, RateLimitPolicy(sleep=slept.append))
    github.state.rate_limit("POST", "/comments", secondary=True, retry_after=7)
    assert gh.create_comment(REPO, 1, "hello").body == "hello"
    assert slept == [7.0]

    slept.clear()  # no retry-after: a minute, then doubling (on 403 as on 429)
    github.state.rate_limit("POST", "/comments", secondary=True, times=3, status=429)
    gh.create_comment(REPO, 1, "again")
    assert slept == [60.0, 120.0, 240.0]
    assert [c.body for c in github.state.comments_on(REPO, 1)] == ["hello", "again"]  # each posted once


def test_the_backoff_is_capped_and_the_client_gives_up(github: StandInGitHub) -> None:
    slept: list[float] = []
    policy = RateLimitPolicy(sleep=slept.append, max_retries=4, secondary_base_s=100, backoff_cap_s=250)
    gh = _client(github, policy)
    github.state.rate_limit("GET", "/issues/1", secondary=True, times=5)
    with pytest.raises(GitHubError, match=r"secondary rate limit.*gave up after 5 tries") as caught:
        gh.get_issue(REPO, 1)
    assert caught.value.status == 403 and slept == [100.0, 200.0, 250.0, 250.0]

    slept.clear()  # a reset further away than the longest wait: not waited at all
    github.state.rate_limit("GET", "/issues/1", times=1, reset_in=7200)
    with pytest.raises(GitHubError, match=r"API rate limit exceeded for installation ID 77.*resets in"):
        _client(github, RateLimitPolicy(sleep=slept.append, max_wait_s=3900)).get_issue(REPO, 1)
    assert slept == []


def test_other_refusals_are_not_waited(github: StandInGitHub) -> None:
    slept: list[float] = []
    github.state.fail_requests("GET", "/issues/1", status=403, times=1)
    with pytest.raises(GitHubError, match="403"):
        _client(github, RateLimitPolicy(sleep=slept.append)).get_issue(REPO, 1)
    assert slept == []


def test_long_waits_are_reported_and_the_reports_own_requests_never_wait(github: StandInGitHub) -> None:
    slept: list[float] = []
    gh = _client(github, RateLimitPolicy(sleep=slept.append, report_after_s=5))
    reported: list[float] = []
    refused: list[str] = []

    def listener(seconds: float) -> None:
        reported.append(seconds)
        try:  # the status comment's edit runs into the same limit: it fails at once instead of waiting
            gh.get_issue(REPO, 1)
        except GitHubError as exc:
            refused.append(str(exc))

    github.state.rate_limit("GET", "/issues/1", secondary=True, retry_after=3)
    with reporting_waits(listener):
        gh.get_issue(REPO, 1)  # 3 s: not worth a line on the status comment
        assert reported == [] and slept == [3.0]
        github.state.rate_limit("GET", "/issues/1", secondary=True, retry_after=60, times=2)
        gh.get_issue(REPO, 1)
    assert reported == [60.0] and len(refused) == 1 and "secondary rate limit" in refused[0]
    assert slept == [3.0, 60.0]
    gh.get_issue(REPO, 1)  # outside the context nobody is told
    assert reported == [60.0]


def test_wait_for_reads_githubs_headers() -> None:
    policy = RateLimitPolicy(clock=lambda: 1000.0)
    assert wait_for(403, {"Retry-After": "12"}, "", 0, policy) == 12.0
    assert wait_for(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1100"}, "", 0, policy) == 101.0
    assert wait_for(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "900"}, "", 0, policy) == 1.0
    assert (
        wait_for(403, {"x-ratelimit-remaining": "12"}, "You have exceeded a secondary rate limit", 2, policy)
        == 240
    )
    assert (
        wait_for(403, {"x-ratelimit-remaining": "12"}, "Resource not accessible by integration", 0, policy)
        is None
    )
    assert wait_for(404, {"retry-after": "5"}, "", 0, policy) is None

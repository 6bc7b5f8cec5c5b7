"""Redaction at the bot's edges: the GitHub client (redacted and capped bodies, through githubkit to the
stand-in, which refuses a body over 65,536 characters as GitHub does), the token registry filled as
installation tokens are minted, and the run page."""

from __future__ import annotations

from pathlib import Path

import httpx

from repomind.bot.github.auth import InstallationTokens
from repomind.bot.github.client import GithubkitFactory
from repomind.redact import REDACTED, SECRETS, Redactor
from repomind.store import JobState, add_event
from repomind.testing import FakePipeline, StandInGitHub
from tests.bot.conftest import FIXED
from tests.bot.helpers import OPERATOR, REPO, Server, adjust, fixture, serve, settings_for, wait_for

#: Not shaped like a GitHub token (GitHub Enterprise's older tokens are 40 hex characters): only the
#: registry, filled when the token is minted, can know it.
PLAIN_TOKEN = "v1.0f3c2a9b8e7d6c5b4a39281706f5e4d3c2b1a09"


def test_minted_installation_tokens_join_the_registry(github: StandInGitHub) -> None:
    registry = Redactor()
    github.state.planned_tokens.append(PLAIN_TOKEN)
    tokens = InstallationTokens(github.app_id, github.private_key, base_url=github.url, registry=registry)
    assert registry(f"token {PLAIN_TOKEN}") == f"token {PLAIN_TOKEN}"
    assert tokens.get(77).token == PLAIN_TOKEN
    assert registry(f"token {PLAIN_TOKEN}") == f"token {REDACTED}"


def test_bodies_posted_to_github_are_redacted_and_capped(github: StandInGitHub) -> None:
    github.state.planned_tokens.append(PLAIN_TOKEN)
    gh = GithubkitFactory(
        github.app_id,
        github.private_key,
        base_url=github.url,
        client_options={"http_cache": False, "auto_retry": False},
    ).for_installation(77)
    assert gh.installation_token().token == PLAIN_TOKEN  # minted: the process registry knows it now
    leak = f"{PLAIN_TOKEN} ghp_16C7e42F292c6912E7710c838347Ae178B4a"
    huge = f"START {leak}\n" + "pip output line\n" * 10_000 + f"{leak} END"
    made = gh.create_comment(REPO, 1, huge)
    [posted] = github.state.comments_on(REPO, 1)
    assert len(posted.body) <= 65_536 and posted.body.startswith("START ") and posted.body.endswith(" END")
    assert "characters cut here" in posted.body
    gh.edit_comment(REPO, made.id, f"edited: {leak}")
    assert posted.body == f"edited: {REDACTED} {REDACTED}"
    pr = gh.create_pull(REPO, title=f"Fix: {leak}", head="main", base="main", body=huge)
    [pull] = github.state.pulls(REPO)
    assert pull.title == f"Fix: {REDACTED} {REDACTED}" and len(pull.body) <= 65_536
    gh.edit_pull(REPO, pr.number, title="again", body=f"{leak}\n" * 20_000)
    assert PLAIN_TOKEN not in pull.body and "ghp_" not in pull.body and len(pull.body) <= 65_536


def test_the_run_page_redacts_error_live_log_and_diff(github: StandInGitHub, tmp_path: Path) -> None:
    SECRETS.add("run-page-canary-9")
    canary_diff = FIXED.replace("return a + b", "return a + b  # run-page-canary-9 ghs_" + "a" * 36)
    pipeline = FakePipeline(edits={"calc.py": canary_diff})
    server = serve(settings_for(github, tmp_path / "data"), pipeline=pipeline)
    try:
        payload = adjust(fixture("issues.labeled"), issue=1, sender="alice", label="repomind")
        assert server.deliver("issues", payload).status_code == 202
        wait_for(lambda: job_state(server) is JobState.SUCCEEDED, what="job done")
        server.ledger.update_job(1, error="stopped: run-page-canary-9")
        add_event(server.ledger, 1, "stage", "pip said x-access-token:run-page-canary-9@github.com")
        page = httpx.get(f"{server.url}/runs/1", headers=OPERATOR).text
        api = httpx.get(f"{server.url}/api/runs/1", headers=OPERATOR).json()
    finally:
        server.stop()
    assert "+    return a + b  # [REDACTED] [REDACTED]" in page
    assert "stopped: [REDACTED]" in page and "x-access-token:[REDACTED]@github.com" in page
    assert "run-page-canary-9" not in page and "ghs_" not in page
    assert api["error"] == "stopped: [REDACTED]"


def job_state(server: Server) -> JobState | None:
    jobs = server.ledger.all_jobs()
    return jobs[0].state if jobs else None

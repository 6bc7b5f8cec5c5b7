"""End to end, no secret gets out: a full bot run (signed delivery into the real app on loopback, the
GitHub stand-in minting the installation token, litellm against the scripted model, the real Docker
sandbox) in which the webhook secret, the LLM key and the live installation token appear in the issue,
in the model's replies and in the repository's test output. Afterwards none of them is in any file under
the run's directory, any log line, any status comment (every edit of it), the PR's title or body, the
commit pushed, or the run page and its JSON."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from repomind import log
from repomind.store import JobState
from repomind.testing import StandInGitHub, StandInLLMServer, make_git_repo
from repomind.testing.github.state import _git
from tests.bot.helpers import OPERATOR, REPO, Server, adjust, fixture, headers, serve, settings_for, wait_for
from tests.bot.test_solve_pipeline import NARROW
from tests.pipeline import solve_fixtures as fx

#: Configured as the webhook secret and as the LLM key (OPENAI_API_KEY, which litellm sends): neither is
#: shaped like a token, so only the registry of configured secrets can catch them.
WEBHOOK_SECRET = "canary-webhook-secret-3d9a2c"
LLM_KEY = "canary-llm-key-5f1e0c7a9b4d"
#: The installation token the stand-in mints for the app (GitHub's shape).
TOKEN = "ghs_C4n4ry0123456789abcdef0123456789ab"
CANARIES = (WEBHOOK_SECRET, LLM_KEY, TOKEN)
LEAK = f"webhook {WEBHOOK_SECRET} llm {LLM_KEY} token {TOKEN}"


def _files() -> dict[str, str]:
    """fx.FILES, with the failing test's assertion message quoting the canaries (the test's output)."""
    tests = fx.FILES["tests/test_ops.py"].replace("assert add(2, 3) == 5", f"assert add(2, 3) == 5, {LEAK!r}")
    return {**fx.FILES, "tests/test_ops.py": tests}


def _deliver(server: Server, event: str, payload: dict[str, Any]) -> httpx.Response:
    body = json.dumps(payload).encode()
    return httpx.post(
        f"{server.url}/webhooks/github",
        content=body,
        headers=headers(event, body, secret=WEBHOOK_SECRET),
    )


def _found(text: str) -> list[str]:
    return [c for c in CANARIES if c in text]


@pytest.mark.docker
def test_no_secret_reaches_artifacts_logs_comments_pr_or_run_page(
    docker_client: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", LLM_KEY)
    log.configure(fmt="json", level="debug")  # as `repomind serve` does before it builds the app
    caplog.set_level(logging.DEBUG)
    replies = [f"{fx.WRONG}\nBy the way: {LEAK}\n", f"Here: {LEAK}\n\n{fx.FIX}"]
    llm = StandInLLMServer(replies).__enter__()
    github = StandInGitHub(tmp_path / "github").start()
    server: Server | None = None
    try:
        github.add_repo(REPO, make_git_repo(tmp_path / "src-calc", _files()))
        title = f"add() is wrong, see {TOKEN}"
        body = f"`add(2, 3)` gives -1. My keys: {LEAK}. tests/test_ops.py::test_add fails."
        github.state.open_issue(REPO, title, body, user="alice")
        github.state.set_permission(REPO, "alice", "maintain")
        github.state.planned_tokens.append(TOKEN)
        settings = settings_for(
            github,
            tmp_path / "data",
            model="openai/stand-in",
            llm_api_base=llm.url,
            embedding_model="none",
            job_lease_s=20.0,
        )
        settings.webhook_secret = SecretStr(WEBHOOK_SECRET)
        NARROW.save(settings.calibration_file)
        server = serve(settings, pipeline=None)
        payload = adjust(fixture("issues.labeled"), issue=1, sender="alice", label="repomind")
        payload["issue"].update(title=title, body=body)  # the issue as GitHub sends it with the event
        assert _deliver(server, "issues", payload).status_code == 202
        done = (JobState.SUCCEEDED, JobState.FAILED)
        wait_for(lambda: [j for j in server.ledger.all_jobs() if j.state in done], timeout=400, what="job")
        [job] = server.ledger.all_jobs()
        page = httpx.get(f"{server.url}/runs/{job.id}", headers=OPERATOR).text
        api = httpx.get(f"{server.url}/api/runs/{job.id}", headers=OPERATOR).text
    finally:
        if server is not None:
            server.stop()
        github.stop()
        llm.stop()
    state = github.state
    comments = state.comments_on(REPO, 1)
    assert job.state is JobState.SUCCEEDED, comments[-1].body if comments else job.error

    # the canaries were really in play: the token was the one used, the key the one sent, and the
    # model saw the issue and, in the second prompt, the test output quoting them
    assert state.token_valid(TOKEN) and state.tokens[TOKEN][0] == 77
    assert llm.authorization[0] == f"Bearer {LLM_KEY}"
    prompts = llm.prompts()
    assert len(prompts) == 2 and all(c in prompts[0] for c in CANARIES) and TOKEN in prompts[1]

    # every file of the run
    [run] = settings.runs_dir.iterdir()
    files = [p for p in run.rglob("*") if p.is_file()]
    assert {"report.json", "trajectory.jsonl", "patch.diff"} <= {p.name for p in files}
    for path in files:
        assert _found(path.read_text(errors="replace")) == [], path
    assert "[REDACTED]" in (run / "attempt-1" / "reply.md").read_text()
    assert "[REDACTED]" in (run / "attempt-1" / "tests-before.log").read_text()

    # every log line, structlog's and the stdlib's
    captured = capsys.readouterr()
    assert captured.err.strip(), "no log line was captured"
    assert _found(captured.err + captured.out) == []
    assert _found(caplog.text) == []

    # every status comment, every version of it; the PR's title and body; the pushed commit
    for comment in comments:
        for version in (*comment.history, comment.body):
            assert _found(version) == [], version
    [pr] = state.pulls(REPO)
    assert pr.title == "Fix #1: add() is wrong, see [REDACTED]"
    assert _found(pr.title) == [] and _found(pr.body) == []
    assert pr.pull is not None
    message = _git(state.repos[REPO].git_dir, "log", "-1", "--format=%B", pr.pull.head)
    assert "[REDACTED]" in message and _found(message) == []

    # the run page
    assert "Run 1" in page and _found(page) == [] and _found(api) == []

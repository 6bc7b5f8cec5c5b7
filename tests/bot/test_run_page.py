"""The run page: live while the job runs (refreshing, with the status comment's lines), final after."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx

from repomind.store import JobState
from repomind.testing import FakePipeline, StandInGitHub
from tests.bot.conftest import FIXED
from tests.bot.helpers import OPERATOR, adjust, fixture, serve, settings_for, wait_for


def test_the_run_page_shows_the_live_log_and_refreshes_while_running(
    github: StandInGitHub, tmp_path: Path
) -> None:
    release = threading.Event()
    pipeline = FakePipeline(edits={"calc.py": FIXED}, gate=release.is_set)
    server = serve(settings_for(github, tmp_path / "data"), pipeline=pipeline)
    try:
        payload = adjust(fixture("issues.labeled"), issue=1, sender="alice", label="repomind")
        assert server.deliver("issues", payload).status_code == 202
        wait_for(lambda: pipeline.calls, what="the job to start")
        page = wait_for(
            lambda: (
                (r := httpx.get(f"{server.url}/runs/1", headers=OPERATOR)).status_code == 200
                and "the change is in: calc.py" in r.text
                and r.text
            ),
            what="the calibrated set on the run page",
        )
        assert '<meta http-equiv="refresh" content="5">' in page and "running" in page
        assert "Localising the change" in page and "attempt 1" not in page
        release.set()
        wait_for(lambda: server.ledger.all_jobs()[0].state is JobState.SUCCEEDED, what="job done")
        page = httpx.get(f"{server.url}/runs/1", headers=OPERATOR).text
        assert httpx.get(f"{server.url}/runs/99", headers=OPERATOR).status_code == 404
    finally:
        server.stop()
    assert 'http-equiv="refresh"' not in page and "succeeded" in page
    assert "attempt 1: passed: scripted edit (tests: 3 passed, 0 failed)" in page
    assert "draft PR ready" in page and "+    return a + b" in page
    assert page.index("Localising the change") < page.index("attempt 1: passed")

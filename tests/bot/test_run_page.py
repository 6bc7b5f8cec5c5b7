"""The run page: live while the job runs (refreshing, with the status comment's lines), final after."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx

from repomind.pipeline.solve import events as ev
from repomind.store import JobState
from repomind.testing import FakePipeline, StandInGitHub
from tests.bot.conftest import FIXED
from tests.bot.helpers import OPERATOR, adjust, fixture, serve, settings_for, wait_for


def test_the_run_page_shows_the_live_log_and_streams_it_while_running(
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
        assert 'http-equiv="refresh"' not in page and 'new EventSource("/api/runs/1/events' in page
        assert '<span id="run-state" class="state state-running">running</span>' in page
        assert "Localising the change" in page and "attempt 1" not in page
        release.set()
        wait_for(lambda: server.ledger.all_jobs()[0].state is JobState.SUCCEEDED, what="job done")
        page = httpx.get(f"{server.url}/runs/1", headers=OPERATOR).text
        assert httpx.get(f"{server.url}/runs/99", headers=OPERATOR).status_code == 404
        listing = httpx.get(f"{server.url}/runs", headers=OPERATOR).text
    finally:
        server.stop()
    assert "EventSource" not in page and ">succeeded</span>" in page
    assert "attempt 1: passed: scripted edit (tests: 3 passed, 0 failed)" in page
    assert "draft PR ready" in page and "+    return a + b" in page
    assert page.index("Localising the change") < page.index("attempt 1: passed")
    # the strategy the run used is recorded with its outcome and shown (the configuration's: a pipeline)
    assert server.ledger.all_jobs()[0].result["strategy"] == "pipeline"
    assert "<td>pipeline</td>" in listing and "<dt>strategy</dt><dd>pipeline</dd>" in page


def test_the_run_page_lists_the_agents_steps_escaped_live_and_after(
    github: StandInGitHub, tmp_path: Path
) -> None:
    hostile = "<script>alert('x')</script>"
    token = "ghp_" + "Z9y8X7w6V5" * 4  # secret-shaped: redacted before it is shown
    off_track = {"right_track": False, "feedback": f"look at {hostile} first", "tokens": 9, "cost_usd": 0.0}
    steps = [
        ev.StepTaken(
            1,
            f"find it {hostile}",
            "search",
            {"regex": hostile},
            f"{hostile} 3 matches",
            "3 matches",
            None,
            120,
            30,
            0.0012,
            0.4,
        ),
        ev.StepTaken(
            2,
            "fix it",
            "edit",
            {"path": "calc.py", "search": "a - b", "replace": "a + b"},
            "look at <script>alert('x')</script> first",
            "refused: off track",
            off_track,
            90,
            20,
            None,
            0.2,
        ),
        ev.StepTaken(
            3,
            "done",
            "submit",
            {"summary": f"fixed {token}"},
            "verified",
            "verified: passed",
            {"right_track": True, "feedback": None},
            100,
            10,
            0.001,
            1.5,
            attempt=1,
        ),
    ]
    release = threading.Event()
    data = tmp_path / "data"
    pipeline = FakePipeline(
        edits={"calc.py": FIXED}, gate=release.is_set, agent_steps=steps, runs_dir=data / "runs"
    )
    server = serve(settings_for(github, data), pipeline=pipeline)
    try:
        payload = adjust(fixture("issues.labeled"), issue=1, sender="alice", label="repomind")
        assert server.deliver("issues", payload).status_code == 202
        live = wait_for(
            lambda: (
                (r := httpx.get(f"{server.url}/runs/1", headers=OPERATOR)).status_code == 200
                and "Agent steps" in r.text
                and r.text
            ),
            what="the agent's steps on the page of the running job",
        )
        assert "3 steps of at most 40" in live and "EventSource" in live
        anonymous = httpx.get(f"{server.url}/runs/1")
        assert anonymous.status_code != 200 and "Agent steps" not in anonymous.text
        release.set()
        wait_for(lambda: server.ledger.all_jobs()[0].state is JobState.SUCCEEDED, what="job done")
        page = httpx.get(f"{server.url}/runs/1", headers=OPERATOR).text
        listing = httpx.get(f"{server.url}/runs", headers=OPERATOR).text
    finally:
        server.stop()
    assert "<td>agent</td>" in listing and "<dt>strategy</dt><dd>agent</dd>" in page  # the run's own word
    assert "<script>" not in page and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert token not in page and "fixed [REDACTED]" in page
    assert "<td>1</td><td>search</td>" in page and "<td>3 matches</td>" in page
    assert "off track: look at &lt;script&gt;" in page and "<td>not reviewed</td>" in page
    assert "<td>on track</td>" in page and "<td>150</td><td>0.0012</td><td>0.4</td>" in page
    assert page.count("<details><summary>thought") == 3 and "<pre>find it &lt;script&gt;" in page
    assert page.index("Agent steps") < page.index("<h2>Diff</h2>")
    assert "<script>alert" not in page.split("<script>\n(function")[0]

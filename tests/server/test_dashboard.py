"""The dashboard and its API on the real server on loopback, signed in through the stand-in GitHub:
the runs list (filters, pages, only readable repositories), the live log as server-sent events, starting
and cancelling runs through the API, and the OpenAPI document behind sign-in."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from repomind.store import JobState, add_event, latest_events
from repomind.store.ledger import JobRequest
from repomind.testing import StandInGitHub, make_git_repo
from tests.bot.helpers import Server, serve
from tests.server.acme import OPERATOR, acme_github, sign_in, signin_settings

AS_OPERATOR = {"Authorization": f"Bearer {OPERATOR}"}
ROW = re.compile(r'<tr data-run-id="(\d+)">')


@pytest.fixture
def github(tmp_path: Path) -> Iterator[StandInGitHub]:
    """acme/calc (alice maintains it, mallory reads it) and acme/secret (alice only), one issue each."""
    with acme_github(tmp_path) as gh:
        gh.state.open_issue("acme/calc", "add is wrong", "1 + 1 gives 0")
        yield gh


@pytest.fixture
def server(github: StandInGitHub, tmp_path: Path) -> Iterator[Server]:
    """70 runs: 1..60 on acme/calc (every third failed), 61..70 on acme/secret (succeeded)."""
    running = serve(signin_settings(github, tmp_path), pipeline=None, worker=False)
    ledger = running.ledger
    for n in range(1, 71):
        repo = "acme/calc" if n <= 60 else "acme/secret"
        job, _ = ledger.open_job(JobRequest(repo, 5, 1000 + n, "label", "fix", requested_by="alice"))
        state = JobState.FAILED if repo == "acme/calc" and n % 3 == 0 else JobState.SUCCEEDED
        ledger.finish(job.id, state)
        ledger.update_job(job.id, result={"tokens": n, "cost_usd": 0.01, "attempts": [{"number": 1}]})
    try:
        yield running
    finally:
        running.stop()


def rows(page: str) -> list[int]:
    return [int(n) for n in ROW.findall(page)]


def test_the_operator_filters_and_pages_the_runs_list(server: Server) -> None:
    first = httpx.get(f"{server.url}/runs", headers=AS_OPERATOR)
    assert first.status_code == 200 and '<table id="runs">' in first.text
    assert rows(first.text) == list(range(70, 20, -1))  # newest first, 50 a page
    assert 'href="/runs?page=2"' in first.text and "page 1 of 2" in first.text
    second = httpx.get(f"{server.url}/runs", params={"page": 2}, headers=AS_OPERATOR)
    assert rows(second.text) == list(range(20, 0, -1))
    failed = httpx.get(
        f"{server.url}/runs", params={"repo": "acme/calc", "state": "failed"}, headers=AS_OPERATOR
    )
    assert rows(failed.text) == list(range(60, 0, -3)) and "20 runs" in failed.text
    api = httpx.get(
        f"{server.url}/api/runs", params={"repo": "acme/secret", "page": 1}, headers=AS_OPERATOR
    ).json()
    assert [r["id"] for r in api["runs"]] == list(range(70, 60, -1)) and api["pages"] == 1
    assert api["runs"][0]["tokens"] == 70 and api["runs"][0]["attempts"] == 1
    assert api["runs"][0]["state"] == "succeeded" and api["runs"][0]["url"] == "/runs/70"
    beyond = httpx.get(f"{server.url}/api/runs", params={"page": 9}, headers=AS_OPERATOR).json()
    assert beyond["runs"] == [] and beyond["pages"] == 2
    refused = httpx.get(f"{server.url}/api/runs", params={"state": "bogus"}, headers=AS_OPERATOR)
    assert refused.status_code == 422


def test_a_signed_in_person_sees_only_repositories_they_can_read(
    server: Server, github: StandInGitHub
) -> None:
    with closing(sign_in(server, github, "mallory", next_page="/runs")) as browser:
        listed = browser.get("/runs")
        assert rows(listed.text) == list(range(60, 10, -1)) and "acme/secret" not in listed.text
        assert rows(browser.get("/runs", params={"page": 2}).text) == list(range(10, 0, -1))
        hidden = browser.get("/runs", params={"repo": "acme/secret"})
        assert rows(hidden.text) == [] and "acme/secret" not in hidden.text.replace("repo=acme/secret", "")
        api = browser.get("/api/runs", params={"repo": "acme/secret"}).json()
        assert api["runs"] == [] and api["total"] == 0
        assert browser.get("/api/runs").json()["total"] == 60
        assert browser.get("/api/runs/61").status_code == 404
    # one GitHub check per repository and session (cached), never one per row
    assert github.state.requests.count(("GET", "/repos/acme/secret")) == 1
    assert github.state.requests.count(("GET", "/repos/acme/calc")) == 1
    with closing(sign_in(server, github, "alice", next_page="/runs")) as browser:
        assert rows(browser.get("/runs").text)[:3] == [70, 69, 68]
        spec = browser.get("/openapi.json")
        assert spec.status_code == 200 and "/api/runs/{job_id}/events" in spec.json()["paths"]
        assert "RunCreate" in spec.json()["components"]["schemas"]
        docs = browser.get("/docs").text
    # the API reference is rendered here from the OpenAPI document: nothing from a CDN, no script
    assert "swagger" not in docs.lower() and "<script" not in docs and "cdn" not in docs.lower()
    assert '<link rel="stylesheet" href="/static/repomind.css">' in docs and "Sign out" in docs
    assert "<h2><code>POST /api/runs</code></h2>" in docs
    assert "<h2><code>GET /api/runs/{job_id}/events</code></h2>" in docs
    assert "<td><code>state</code></td><td>query</td>" in docs  # GET /api/runs's filter
    assert '<p><a href="#schema-RunCreate">RunCreate</a></p>' in docs  # POST's request body
    assert '<section class="schema" id="schema-RunCreate">' in docs
    assert "<td><code>repository</code></td><td>string</td><td>yes</td>" in docs
    assert "One of queued, running, succeeded, failed, cancelled." in docs  # JobState's values


def test_anonymous_visitors_get_nothing(server: Server) -> None:
    for path in ("/runs", "/docs", "/"):
        assert httpx.get(f"{server.url}{path}").status_code == 303, path
    for path in ("/api/runs", "/openapi.json", "/api/runs/1/events"):
        assert httpx.get(f"{server.url}{path}").status_code == 401, path
    assert (
        httpx.post(f"{server.url}/api/runs", json={"repository": "acme/calc", "issue": 1}).status_code == 401
    )
    assert httpx.post(f"{server.url}/api/runs/1/cancel").status_code == 401
    css = httpx.get(f"{server.url}/static/repomind.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "@media (max-width" in css.text


def _frames(text: str) -> list[dict[str, str]]:
    out = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, _, value = line.partition(": ")
            if key in ("id", "event", "data"):
                fields[key] = value
        if "event" in fields:
            out.append(fields)
    return out


def test_the_live_log_streams_in_order_after_last_event_id_and_ends(server: Server) -> None:
    ledger = server.ledger
    job, _ = ledger.open_job(JobRequest("acme/calc", 5, 99, "label", "fix", requested_by="alice"))
    for n in range(3):
        add_event(ledger, job.id, "stage", f"line {n}")
    secret = "ghp_" + "A1b2C3d4E5" * 4
    received: list[str] = []

    def listen(headers: dict[str, str]) -> None:
        with httpx.stream("GET", f"{server.url}/api/runs/{job.id}/events", headers=headers, timeout=30) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            received.append(r.read().decode())

    first_id = latest_events(ledger, job.id)[0].id
    listener = threading.Thread(target=listen, args=({**AS_OPERATOR, "Last-Event-ID": str(first_id)},))
    listener.start()
    add_event(ledger, job.id, "stage", f"line 3 {secret}")
    ledger.finish(job.id, JobState.SUCCEEDED)
    listener.join(timeout=30)
    frames = _frames(received[0])
    logs = [json.loads(f["data"]) for f in frames if f["event"] == "log"]
    assert [entry["message"] for entry in logs] == ["line 1", "line 2", "line 3 [REDACTED]"]
    assert [int(f["id"]) for f in frames if f["event"] == "log"] == [e["id"] for e in logs]
    assert logs == sorted(logs, key=lambda e: e["id"]) and logs[0]["id"] == first_id + 1
    assert frames[-1] == {"event": "end", "data": '{"state": "succeeded"}'}
    again = httpx.get(
        f"{server.url}/api/runs/{job.id}/events", params={"after": logs[-1]["id"]}, headers=AS_OPERATOR
    )
    assert [f["event"] for f in _frames(again.text)] == ["end"]
    assert httpx.get(f"{server.url}/api/runs/999/events", headers=AS_OPERATOR).status_code == 404


def test_runs_are_started_through_the_api_by_issue_or_by_text(server: Server, github: StandInGitHub) -> None:
    by_number = httpx.post(
        f"{server.url}/api/runs", json={"repository": "acme/calc", "issue": 1}, headers=AS_OPERATOR
    )
    assert by_number.status_code == 202, by_number.text
    job = server.ledger.job(by_number.json()["id"])
    assert (job.trigger, job.command, job.requested_by, job.issue_number) == ("api", "fix", "operator", 1)
    assert job.state is JobState.QUEUED and job.issue_title == "add is wrong"
    assert any(f"/runs/{job.id}" in c.body for c in github.state.comments_on("acme/calc", 1))
    with closing(sign_in(server, github, "alice", next_page="/runs")) as browser:
        by_text = browser.post(
            "/api/runs", json={"repository": "acme/calc", "title": "sub is wrong", "body": "2 - 1 gives 3"}
        )
        assert by_text.status_code == 202, by_text.text
        answer = by_text.json()
        issue = github.state.repos["acme/calc"].issues[answer["issue"]]
        assert issue.title == "sub is wrong" and issue.user == github.state.app_login
        assert "2 - 1 gives 3" in issue.body and "by alice" in issue.body
        started = server.ledger.job(answer["id"])
        assert (started.requested_by, started.trigger, started.issue_body) == ("alice", "api", issue.body)
        assert answer["url"] == f"/runs/{answer['id']}"
        both = browser.post("/api/runs", json={"repository": "acme/calc", "issue": 1, "title": "x"})
        neither = browser.post("/api/runs", json={"repository": "acme/calc"})
        assert both.status_code == neither.status_code == 422
        assert browser.post("/api/runs", json={"repository": "acme/calc/x", "issue": 1}).status_code == 422
        assert browser.post("/api/runs", json={"repository": "acme/calc", "issue": 404}).status_code == 404
        assert browser.post("/api/runs", json={"repository": "acme/other", "issue": 1}).status_code == 404
    with closing(sign_in(server, github, "mallory", next_page="/runs")) as browser:
        refused = browser.post("/api/runs", json={"repository": "acme/calc", "issue": 1})
        assert refused.status_code == 403 and "write access" in refused.text
        hidden = browser.post("/api/runs", json={"repository": "acme/secret", "title": "t", "body": "b"})
        assert hidden.status_code == 404
    assert len(github.state.repos["acme/secret"].issues) == 0


def test_the_installation_of_a_repository_is_asked_of_github_as_the_app(
    server: Server, github: StandInGitHub, tmp_path: Path
) -> None:
    """A repository installed since (no run in the ledger yet) is driven at once, under the installation
    GitHub names; one the app is not installed on is 404 even with runs of it in the ledger."""
    github.add_repo("acme/fresh", make_git_repo(tmp_path / "fresh", {"f.py": "z = 3\n"}), installation_id=9)
    github.state.open_issue("acme/fresh", "z is wrong", "z should be 4")
    github.add_repo("acme/gone", make_git_repo(tmp_path / "gone", {"g.py": "g = 1\n"}), installation_id=None)
    github.state.open_issue("acme/gone", "g is wrong", "g should be 2")
    server.ledger.open_job(JobRequest("acme/gone", 5, 7, "label", "fix", requested_by="alice"))
    fresh = httpx.post(
        f"{server.url}/api/runs", json={"repository": "acme/fresh", "issue": 1}, headers=AS_OPERATOR
    )
    assert fresh.status_code == 202, fresh.text
    assert server.ledger.job(fresh.json()["id"]).installation_id == 9
    assert ("GET", "/repos/acme/fresh/installation") in github.state.requests
    gone = httpx.post(
        f"{server.url}/api/runs", json={"repository": "acme/gone", "issue": 1}, headers=AS_OPERATOR
    )
    assert gone.status_code == 404 and "not a repository Repomind is installed on" in gone.text
    assert not github.state.comments_on("acme/gone", 1)


def test_a_run_is_cancelled_through_the_api(server: Server, github: StandInGitHub) -> None:
    job, _ = server.ledger.open_job(JobRequest("acme/calc", 5, 1, "label", "fix", requested_by="alice"))
    with closing(sign_in(server, github, "mallory", next_page="/runs")) as browser:
        assert browser.post(f"/api/runs/{job.id}/cancel").status_code == 403
        assert browser.post("/api/runs/61/cancel").status_code == 404  # acme/secret: not readable
    assert server.ledger.job(job.id).state is JobState.QUEUED
    cancelled = httpx.post(f"{server.url}/api/runs/{job.id}/cancel", headers=AS_OPERATOR)
    assert cancelled.status_code == 202
    assert cancelled.json() == {"id": job.id, "state": "cancelled", "cancel_requested": True}
    assert server.ledger.job(job.id).state is JobState.CANCELLED
    page = httpx.get(f"{server.url}/runs/{job.id}", headers=AS_OPERATOR).text
    assert '<span id="run-state" class="state state-cancelled">cancelled</span>' in page
    assert "EventSource" not in page
    ended = httpx.post(f"{server.url}/api/runs/60/cancel", headers=AS_OPERATOR).json()
    assert ended["state"] == "failed"

"""Scale-out (issue #22): two ``repomind worker`` processes on one real Redis and one real PostgreSQL share
a burst of 20 labelled issues; one is killed (SIGKILL) mid-job and the other finishes its jobs; a third
process, ``repomind serve --no-worker``, serves the run pages. Each process has its own data directory,
as it would on its own host: the run pages read the runs' files from the shared store, never a worker's
disk.

The workers run the scripted pipeline (``REPOMIND_PIPELINE=repomind.testing.pipeline:scripted_pipeline``,
set only by tests): the bot's side (triggers, status comments, leases, branches, PRs, the queue and the
store) is the real one; the pipeline's own is tested elsewhere.
"""

from __future__ import annotations

import html
import json
import re
import signal
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from repomind.store import JobState, Ledger, make_engine
from repomind.store.artifacts import LedgerArtifacts
from repomind.testing import StandInGitHub
from repomind.testing.github.server import free_port
from tests.bot.helpers import OPERATOR, OPERATOR_TOKEN, REPO, adjust, fixture, headers, process_env, wait_for
from tests.requirements import missing
from tests.services import PostgresServer, RedisServer, ServiceUnavailable
from tests.test_cli import REPOMIND

pytestmark = [pytest.mark.services, pytest.mark.slow]

BURST = 20
#: The killed worker finishes this many jobs before the next ones hang (then it is killed).
FINISHED_BEFORE_KILL = 2


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    try:
        server = RedisServer(tmp_path / "redis")
    except ServiceUnavailable as exc:
        missing("services", f"{exc} (run scripts/provision-services.sh)")
    with server:
        yield server


@pytest.fixture
def procs() -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    running: dict[str, subprocess.Popen[bytes]] = {}
    yield running
    for proc in running.values():
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def _log_lines(path: Path) -> list[dict[str, Any]]:
    lines = []
    for text in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(text)
        except ValueError:
            continue
        if isinstance(record, dict):
            lines.append(record)
    return lines


def _finished(path: Path) -> list[int]:
    return [int(r["job"]) for r in _log_lines(path) if r.get("event") == "job finished"]


def test_two_workers_share_a_burst_and_one_killed_mid_job_loses_nothing(
    github: StandInGitHub,
    tmp_path: Path,
    postgres: PostgresServer,
    redis: RedisServer,
    procs: dict[str, subprocess.Popen[bytes]],
) -> None:
    # the scripted pipeline's change names the issue by the "#N" its title ends with
    titles = {
        github.state.open_issue(REPO, f"problem #{n}", "part of the burst"): f"problem #{n}"
        for n in range(BURST)
    }
    issues = sorted(titles)
    tag = {number: titles[number].split("#")[1] for number in issues}
    # one store for all: the ledger (and the run artifacts in it) on PostgreSQL, the queue on Redis
    database = postgres.new_database("scale")
    shared = {
        "REPOMIND_DATABASE_URL": database,
        "REPOMIND_REDIS_URL": redis.url,
        "REPOMIND_JOB_LEASE_S": "2",
        "REPOMIND_RECOVER_EVERY_S": "1",
        "REPOMIND_WORKERS": "2",
        "REPOMIND_LOG_FORMAT": "json",
        "REPOMIND_PUBLIC_URL": "http://repomind.test",
    }
    edits = {"fixes/issue_{issue}.py": "FIXED = 'issue {issue}'\n"}
    held = tmp_path / "held"
    scripts = {
        # "a" finishes its first jobs, then hangs in the next ones until it is killed
        "a": {"edits": edits, "hold_after": FINISHED_BEFORE_KILL, "held_file": str(held)},
        # "b" is a little slower, so that "a" surely gets more than its first jobs
        "b": {"edits": edits, "delay_s": 0.2},
    }
    logs = {name: tmp_path / f"{name}.log" for name in ("a", "b", "serve")}
    for name, script in scripts.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(script))
        env = process_env(github, tmp_path / f"host-{name}", tmp_path / f"{name}.json", **shared)
        out = logs[name].open("wb")
        procs[name] = subprocess.Popen([REPOMIND, "worker"], env=env, stdout=out, stderr=out)
    port = free_port()
    (tmp_path / "serve.json").write_text("{}")
    env = process_env(github, tmp_path / "host-serve", tmp_path / "serve.json", **shared)
    env["REPOMIND_OPERATOR_TOKEN"] = OPERATOR_TOKEN
    out = logs["serve"].open("wb")
    procs["serve"] = subprocess.Popen(
        [REPOMIND, "serve", "--no-worker", "--port", str(port)], env=env, stdout=out, stderr=out
    )
    url = f"http://127.0.0.1:{port}"

    def tail(name: str) -> str:
        return logs[name].read_text(errors="replace")[-3000:]

    def started() -> bool:
        for name, proc in procs.items():
            assert proc.poll() is None, f"{name} exited: {tail(name)}"
        workers = all(
            any(r.get("event") == "worker started" for r in _log_lines(logs[n])) for n in ("a", "b")
        )
        try:
            return workers and httpx.get(f"{url}/healthz").status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(started, timeout=60, what="two workers and the server to start")

    def label(number: int) -> int:
        payload = adjust(fixture("issues.labeled"), issue=number, sender="alice", label="repomind")
        payload["issue"]["title"] = titles[number]
        body = json.dumps(payload).encode()
        return httpx.post(f"{url}/webhooks/github", content=body, headers=headers("issues", body)).status_code

    with ThreadPoolExecutor(max_workers=5) as pool:  # the burst: 20 issues labelled at once
        assert list(pool.map(label, issues)) == [202] * BURST

    wait_for(held.exists, timeout=60, what=f"worker a to hang in a job: {tail('a')}")
    ledger = Ledger(make_engine(database))
    try:
        pid_a = str(procs["a"].pid)
        hung = [
            j.id
            for j in ledger.all_jobs()
            if j.state is JobState.RUNNING and (j.lease_owner or "").split(":")[1:2] == [pid_a]
        ]
        assert hung, "worker a holds the job it hangs in"
        procs["a"].send_signal(signal.SIGKILL)  # mid-job: no cleanup, its leases left behind
        procs["a"].wait(timeout=10)

        def all_done() -> bool:
            assert procs["b"].poll() is None, tail("b")
            jobs = ledger.all_jobs()
            return len(jobs) == BURST and all(j.state is JobState.SUCCEEDED for j in jobs)

        wait_for(all_done, timeout=90, what=f"worker b to finish every job: {tail('b')}")
        jobs = {j.issue_number: j for j in ledger.all_jobs()}
        artifacts = LedgerArtifacts(ledger)
        runs = {n: (j.result or {}).get("run_id", "") for n, j in jobs.items()}
        stored = {n: artifacts.names(run) for n, run in runs.items()}

        # the dashboard, served by the third process, shows every run with its diff
        pages = {n: httpx.get(f"{url}/runs/{j.id}", headers=OPERATOR) for n, j in jobs.items()}
        api = {n: httpx.get(f"{url}/api/runs/{j.id}", headers=OPERATOR) for n, j in jobs.items()}
        anonymous = httpx.get(f"{url}/runs/{jobs[issues[0]].id}")
        listing = httpx.get(f"{url}/runs", headers=OPERATOR)
    finally:
        ledger.dispose()
    procs["b"].send_signal(signal.SIGTERM)
    assert procs["b"].wait(timeout=30) is not None

    # none lost: every issue has its one job, succeeded
    assert sorted(jobs) == sorted(issues)
    # none run twice: each job finished once, by one worker; the two shared the burst
    finished_a, finished_b = _finished(logs["a"]), _finished(logs["b"])
    assert len(finished_a) == FINISHED_BEFORE_KILL and finished_b
    assert sorted(finished_a + finished_b) == sorted(j.id for j in jobs.values())
    # the killed worker's job(s) were taken over (a second claim) and finished by the other
    for job_id in hung:
        assert job_id in finished_b
        assert next(j for j in jobs.values() if j.id == job_id).claims == 2
    assert sum(j.claims for j in jobs.values()) == BURST + len(hung)
    # each issue: one status comment, one branch, one PR with its own change
    branches = github.state.branches(REPO)
    pulls = github.state.pulls(REPO)
    assert len(pulls) == BURST and len({p.pull.head for p in pulls if p.pull}) == BURST
    for number, job in jobs.items():
        own = [c.body for c in github.state.comments_on(REPO, number) if f"repomind:job:{job.id}" in c.body]
        assert len(own) == 1 and "draft PR ready" in own[0], (number, own)
        assert branches.count(f"repomind/issue-{number}") == 1
        fixed = f"fixes/issue_{tag[number]}.py"
        assert (
            github.state.get_file(REPO, fixed, f"repomind/issue-{number}")
            == f"FIXED = 'issue {tag[number]}'\n"
        )
        assert job.pr_number is not None
        # the run's files are in the shared store, uploaded by the worker that ran it
        assert {"report.json", "trajectory.jsonl", "attempt-1/patch.diff"} <= set(stored[number]), stored[
            number
        ]
        assert pages[number].status_code == 200
        # the PR's diff, and the attempt's own diff read from the shared store (this host never ran it)
        added = f"+FIXED = 'issue {tag[number]}'"
        assert fixed in pages[number].text and html.unescape(pages[number].text).count(added) >= 2
        data = api[number].json()
        assert data["state"] == "succeeded" and data["pull_request"] == job.pr_number
        assert added in data["diff"] and added in data["attempts_detail"][0]["diff"]
    # the runs list shows all 20
    assert listing.status_code == 200
    assert sorted(int(i) for i in re.findall(r'data-run-id="(\d+)"', listing.text)) == sorted(
        j.id for j in jobs.values()
    )
    assert anonymous.status_code != 200 and "fixes/issue_" not in anonymous.text
    # no process logged a GitHub token
    everything = "".join(path.read_text(errors="replace") for path in logs.values())
    assert not any(token in everything for token in github.state.tokens)

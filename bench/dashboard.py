"""Dashboard benchmark: the runs list with 10,000 runs in the store, and the live log's delay to a
server-sent-events client. Prints JSON.

    .venv/bin/python bench/dashboard.py [--runs 10000] [--requests 60] [--events 30] [--out PATH]

Targets (issue #22): the runs list renders in <= 200 ms p95 (SQLite, the default store); a live-log line
reaches the browser <= 1 s after it is written. A real uvicorn on loopback, the operator's token (every
run visible: the largest list); the lines are written to the ledger as a worker writes them.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from pydantic import SecretStr
from sqlalchemy import insert

from repomind.server.app import create_app
from repomind.settings import Settings
from repomind.store import Job, JobState, Ledger, add_event
from repomind.testing import StandInGitHub
from repomind.testing.github.server import free_port

TOKEN = "bench-operator-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REPOS = [f"acme/repo{n:02d}" for n in range(20)]
STATES = [JobState.SUCCEEDED] * 6 + [JobState.FAILED] * 3 + [JobState.CANCELLED]


def seed(ledger: Ledger, count: int) -> None:
    start = datetime.now(UTC) - timedelta(days=60)
    rng = random.Random(22)
    rows: list[dict[str, Any]] = []
    for n in range(count):
        at = start + timedelta(minutes=8 * n)
        result = {
            "tokens": rng.randint(1_000, 90_000),
            "cost_usd": round(rng.random(), 4),
            "attempts": [{"number": k + 1, "outcome": "passed"} for k in range(rng.randint(1, 3))],
            "diff": "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n" * 20,
        }
        rows.append(
            {
                "repo": REPOS[n % len(REPOS)],
                "installation_id": 1 + n % 3,
                "issue_number": n + 1,
                "trigger": "label",
                "command": "fix",
                "args": {},
                "requested_by": "alice",
                "state": rng.choice(STATES),
                "cancel_requested": False,
                "claims": 1,
                "pr_number": n + 1,
                "result": result,
                "bot_diff": result["diff"],
                "created_at": at,
                "updated_at": at + timedelta(seconds=rng.randint(30, 900)),
            }
        )
    with ledger.session() as s:
        for chunk in range(0, len(rows), 1000):
            s.execute(insert(Job), rows[chunk : chunk + 1000])


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timings(samples: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples]
    return {
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": round(percentile(ms, 0.95), 1),
        "max_ms": round(max(ms), 1),
    }


def list_timings(url: str, requests: int) -> dict[str, Any]:
    cases = {
        "all, page 1": {},
        "by repository": {"repo": REPOS[3]},
        "by state": {"state": "failed"},
        "repository and state, page 3": {"repo": REPOS[5], "state": "succeeded", "page": "3"},
        "all, page 150": {"page": "150"},
    }
    out: dict[str, Any] = {}
    with httpx.Client(base_url=url, headers=AUTH) as client:
        for name, params in cases.items():
            client.get("/runs", params=params)  # warm
            samples = []
            for _ in range(requests):
                t = time.perf_counter()
                page = client.get("/runs", params=params)
                samples.append(time.perf_counter() - t)
                assert page.status_code == 200 and 'id="runs"' in page.text
            out[name] = timings(samples)
        api = []
        for _ in range(requests):
            t = time.perf_counter()
            assert client.get("/api/runs").status_code == 200
            api.append(time.perf_counter() - t)
        out["GET /api/runs"] = timings(api)
    return out


def sse_delays(url: str, ledger: Ledger, events: int) -> dict[str, Any]:
    from repomind.store.ledger import JobRequest

    job, _ = ledger.open_job(JobRequest("acme/repo00", 1, 999_999, "label", "fix", requested_by="bench"))
    job_id = job.id
    written: dict[str, float] = {}
    delays: list[float] = []
    done = threading.Event()

    def listen() -> None:
        with httpx.stream("GET", f"{url}/api/runs/{job_id}/events", headers=AUTH, timeout=60) as r:
            for line in r.iter_lines():
                if line.startswith("data: ") and '"message"' in line:
                    message = json.loads(line[6:])["message"]
                    delays.append(time.perf_counter() - written[message])
                if line.startswith("event: end"):
                    break
        done.set()

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    time.sleep(0.5)
    rng = random.Random(7)
    for n in range(events):
        message = f"stage {n}"
        add_event(ledger, job_id, "stage", message)
        written[message] = time.perf_counter()  # after the commit: the line is in the store
        time.sleep(rng.uniform(0.05, 0.4))
    ledger.finish(job_id, JobState.SUCCEEDED)
    done.wait(30)
    assert len(delays) == events, f"{len(delays)} of {events} lines arrived"
    return {"lines": events, **timings(delays)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--events", type=int, default=30)
    parser.add_argument("--out", type=Path, default=Path("bench/out/dashboard.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, StandInGitHub(Path(tmp, "github")) as github:
        settings = Settings(
            app_id=github.app_id,
            private_key=SecretStr(github.private_key),
            webhook_secret=SecretStr("bench-webhook-secret"),
            github_api_url=github.url,
            data_dir=Path(tmp, "data"),
            operator_token=SecretStr(TOKEN),
        )
        app = create_app(settings, worker=False)
        ledger: Ledger = app.state.runtime.ledger
        t = time.perf_counter()
        seed(ledger, args.runs)
        seeded_s = time.perf_counter() - t
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        url = f"http://127.0.0.1:{port}"
        try:
            lists = list_timings(url, args.requests)
            live = sse_delays(url, ledger, args.events)
        finally:
            server.should_exit = True
            thread.join(30)
    worst = max(v["p95_ms"] for k, v in lists.items() if k != "GET /api/runs")
    report = {
        "store": "sqlite",
        "runs": args.runs,
        "seed_s": round(seeded_s, 2),
        "runs_list": lists,
        "runs_list_worst_p95_ms": worst,
        "runs_list_target_ms": 200,
        "runs_list_ok": worst <= 200,
        "live_log": live,
        "live_log_target_ms": 1000,
        "live_log_ok": live["max_ms"] <= 1000,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

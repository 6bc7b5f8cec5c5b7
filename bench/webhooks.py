"""Webhook benchmark: acknowledgement latency under load, deliveries lost, jobs duplicated. Prints JSON.

    .venv/bin/python bench/webhooks.py [--rate 50] [--duration 30] [--no-worker] [--out bench/out]

On loopback: a GitHub stand-in (its own process) and ``repomind serve`` (a subprocess, with its worker
process unless ``--no-worker``) receive an open-loop stream of signed deliveries built from GitHub's own
payloads: labels, double labels, ``/repomind fix`` on labelled issues, redeliveries of earlier delivery
ids, plain comments, ``/repomind status``, ping and unhandled actions, and a few badly signed ones.
The pipeline never finishes (a scripted pipeline waiting on a file that never appears), so every job
stays active and any second job for one issue would be a duplicate.

Targets (issue #5): p99 acknowledgement ≤ 100 ms at 50 deliveries/s for 30 s, 0 deliveries lost, 0 jobs
duplicated (counted in the ledger).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "github" / "webhooks"
SECRET = "bench-secret-0123456789"
REPO = "bench/app"
INSTALLATION = 7


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_standin(directory: Path, issues: int) -> None:
    """Child mode: run the GitHub stand-in until terminated; write its address and key for the parent."""
    from repomind.testing import StandInGitHub, make_git_repo

    with StandInGitHub(directory / "github") as gh:
        gh.add_repo(REPO, make_git_repo(directory / "src", {"app.py": "x = 1\n"}))
        for n in range(1, issues + 1):
            gh.state.open_issue(REPO, f"issue {n}", "something is wrong", user="alice")
        gh.state.set_permission(REPO, "alice", "write")
        info = {"url": gh.url, "app_id": gh.app_id, "private_key": gh.private_key}
        (directory / "standin.tmp").write_text(json.dumps(info))
        (directory / "standin.tmp").rename(directory / "standin.json")
        stop = False

        def on_term(_signum: int, _frame: Any) -> None:
            nonlocal stop
            stop = True

        signal.signal(signal.SIGTERM, on_term)
        while not stop:
            time.sleep(0.2)


def _fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_bytes())
    owner, repo_name = REPO.split("/")
    if "repository" in data:
        data["repository"].update(full_name=REPO, name=repo_name, default_branch="main")
        data["repository"]["owner"]["login"] = owner
    data["installation"] = {"id": INSTALLATION}
    return data


def _sign(body: bytes, secret: str = SECRET) -> str:
    import hashlib
    import hmac

    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def plan(count: int, github_url: str) -> list[tuple[str, str, bytes, str, str]]:
    """(kind, event, body, delivery id, signature) for each delivery, comments created on the stand-in."""
    label, comment = _fixture("issues.labeled"), _fixture("issue_comment.created.with-installation")
    ping, opened = _fixture("ping.with-app_id"), _fixture("pull_request.opened")
    out: list[tuple[str, str, bytes, str, str]] = []
    labelled: list[int] = []
    next_issue = 1
    with httpx.Client(base_url=github_url) as client:

        def person_comment(issue: int, text: str) -> bytes:
            cid = client.post(
                f"/_standin/repos/{REPO}/issues/{issue}/comments", json={"body": text, "user": "alice"}
            ).json()["id"]
            data = json.loads(json.dumps(comment))
            data["issue"]["number"], data["comment"]["id"], data["comment"]["body"] = issue, cid, text
            data["sender"]["login"] = data["comment"]["user"]["login"] = "alice"
            return json.dumps(data).encode()

        for i in range(count):
            slot = i % 20
            delivery = str(uuid.uuid4())
            if slot <= 3 or not labelled:
                data = json.loads(json.dumps(label))
                data["issue"]["number"], data["label"]["name"], data["sender"]["login"] = (
                    next_issue,
                    "repomind",
                    "alice",
                )
                labelled.append(next_issue)
                next_issue += 1
                item = ("label", "issues", json.dumps(data).encode())
            elif slot == 4:
                data = json.loads(json.dumps(label))
                data["issue"]["number"], data["label"]["name"], data["sender"]["login"] = (
                    labelled[-1],
                    "repomind",
                    "alice",
                )
                item = ("double-label", "issues", json.dumps(data).encode())
            elif slot == 5:
                kind, event, body, delivery, sig = out[-5]
                out.append(("redelivery", event, body, delivery, sig))
                continue
            elif slot <= 9:
                item = (
                    "fix-command",
                    "issue_comment",
                    person_comment(labelled[-(slot - 5)], "/repomind fix"),
                )
            elif slot <= 13:
                item = ("plain-comment", "issue_comment", person_comment(labelled[-1], "Same here, thanks!"))
            elif slot <= 15:
                item = ("status-command", "issue_comment", person_comment(labelled[-1], "/repomind status"))
            elif slot <= 17:
                item = ("ping", "ping", json.dumps(ping).encode())
            elif slot == 18:
                item = ("unhandled", "pull_request", json.dumps(opened).encode())
            else:
                body = json.dumps(label).encode()
                out.append(("bad-signature", "issues", body, delivery, _sign(body, "wrong")))
                continue
            kind, event, body = item
            out.append((kind, event, body, delivery, _sign(body)))
    return out


async def load(url: str, items: list[tuple[str, str, bytes, str, str]], rate: float) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:

        async def send(kind: str, event: str, body: bytes, delivery: str, sig: str, due: float) -> None:
            headers = {
                "X-GitHub-Event": event,
                "X-GitHub-Delivery": delivery,
                "X-Hub-Signature-256": sig,
                "Content-Type": "application/json",
                "User-Agent": "GitHub-Hookshot/bench",
            }
            start = time.perf_counter()
            try:
                resp = await client.post("/webhooks/github", content=body, headers=headers)
                status = resp.status_code
            except httpx.HTTPError as exc:
                status = f"error: {type(exc).__name__}"
            end = time.perf_counter()
            results.append(
                {
                    "kind": kind,
                    "delivery": delivery,
                    "status": status,
                    "latency_s": end - start,
                    "lag_s": start - due,
                }
            )

        t0 = time.perf_counter()
        tasks = []
        for i, item in enumerate(items):
            due = t0 + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(send(*item, due)))
        await asyncio.gather(*tasks)
    return results


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--no-worker", action="store_true", help="serve --no-worker (acks only)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--standin", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--issues", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.standin:
        serve_standin(args.standin, args.issues)
        return

    count = int(args.rate * args.duration)
    tmp = Path(tempfile.mkdtemp(prefix="repomind-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPOMIND_")}
    env["PYTHONPATH"] = str(ROOT / "src")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        standin = subprocess.Popen(
            [sys.executable, __file__, "--standin", str(tmp), "--issues", str(count)], env=env
        )
        procs.append(standin)
        deadline = time.monotonic() + 120
        while not (tmp / "standin.json").exists():
            if time.monotonic() > deadline or standin.poll() is not None:
                raise SystemExit("the GitHub stand-in did not start")
            time.sleep(0.1)
        info = json.loads((tmp / "standin.json").read_text())
        (tmp / "script.json").write_text(json.dumps({"release_file": str(tmp / "never")}))
        port = _port()
        serve_env = {
            **env,
            "REPOMIND_DATA_DIR": str(tmp / "data"),
            "REPOMIND_APP_ID": info["app_id"],
            "REPOMIND_PRIVATE_KEY": info["private_key"],
            "REPOMIND_WEBHOOK_SECRET": SECRET,
            "REPOMIND_GITHUB_API_URL": info["url"],
            "REPOMIND_PIPELINE": "repomind.testing.pipeline:scripted_pipeline",
            "REPOMIND_FAKE_PIPELINE": str(tmp / "script.json"),
            "REPOMIND_LOG_LEVEL": "warning",
        }
        cmd = [sys.executable, "-m", "repomind", "serve", "--port", str(port)]
        serve_log = (tmp / "serve.log").open("wb")
        procs.append(
            subprocess.Popen(
                cmd + (["--no-worker"] if args.no_worker else []),
                env=serve_env,
                stderr=serve_log,
                start_new_session=True,  # the server and its worker process: killed together below
            )
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("repomind serve did not start: " + (tmp / "serve.log").read_text()[-2000:])
            time.sleep(0.2)

        items = plan(count, info["url"])
        started = time.perf_counter()
        results = asyncio.run(load(url, items, args.rate))
        elapsed = time.perf_counter() - started
        report = _report(results, tmp, args, elapsed, items)
        args.out.mkdir(parents=True, exist_ok=True)
        _plot(results, args.out / "webhooks.png")
        (args.out / "webhooks.json").write_text(json.dumps(report, indent=2))
        print(json.dumps(report, indent=2))
    finally:
        for proc in reversed(procs):
            if proc is procs[0]:
                proc.send_signal(signal.SIGTERM)
            else:  # the pipeline never finishes, so a graceful stop would wait forever
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def _report(
    results: list[dict[str, Any]],
    tmp: Path,
    args: argparse.Namespace,
    elapsed: float,
    items: list[tuple[str, str, bytes, str, str]],
) -> dict[str, Any]:
    from sqlalchemy import select

    from repomind.store import Delivery, Ledger, make_engine

    ledger = Ledger(make_engine(f"sqlite:///{tmp / 'data' / 'repomind.db'}"))
    accepted = {r["delivery"] for r in results if r["status"] == 202}
    expected_job_issues = {
        json.loads(body)["issue"]["number"]
        for kind, _e, body, _d, _s in items
        if kind in ("label", "double-label", "fix-command")
    }
    drain_deadline = time.monotonic() + (5 if args.no_worker else 180)
    while True:  # let the worker process dispatch what was acknowledged
        with ledger.session() as s:
            rows = {d.id: d.dispatched_at for d in s.scalars(select(Delivery))}
        pending = [d for d in accepted if rows.get(d) is None]
        if not pending or time.monotonic() > drain_deadline:
            break
        time.sleep(0.5)
    jobs = ledger.all_jobs()
    per_intent = collections.Counter((j.repo, j.issue_number, j.command, json.dumps(j.args)) for j in jobs)
    latencies = [r["latency_s"] for r in results if isinstance(r["status"], int)]
    by_kind: dict[str, dict[str, Any]] = {}
    for kind in sorted({r["kind"] for r in results}):
        mine = [r for r in results if r["kind"] == kind]
        by_kind[kind] = {
            "n": len(mine),
            "statuses": dict(collections.Counter(str(r["status"]) for r in mine)),
            "p99_ms": round(_pct([r["latency_s"] for r in mine], 0.99) * 1000, 1),
        }
    return {
        "rate_per_s": args.rate,
        "duration_s": args.duration,
        "worker": not args.no_worker,
        "sent": len(results),
        "achieved_rate_per_s": round(len(results) / elapsed, 1),
        "ack_latency_ms": {
            "p50": round(statistics.median(latencies) * 1000, 1),
            "p90": round(_pct(latencies, 0.90) * 1000, 1),
            "p99": round(_pct(latencies, 0.99) * 1000, 1),
            "max": round(max(latencies) * 1000, 1),
        },
        "send_lag_p99_ms": round(_pct([r["lag_s"] for r in results], 0.99) * 1000, 1),
        "target_p99_ms": 100,
        "errors": sum(1 for r in results if not isinstance(r["status"], int)),
        "accepted": len(accepted),
        "deliveries_lost": len([d for d in accepted if d not in rows]),
        "deliveries_dispatched": len([d for d in accepted if rows.get(d) is not None]),
        "jobs": len(jobs),
        "jobs_expected": len(expected_job_issues) if not args.no_worker else 0,
        "jobs_duplicated": sum(n - 1 for n in per_intent.values()),
        "by_kind": by_kind,
    }


def _plot(results: list[dict[str, Any]], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # plots are optional (the dev extra has matplotlib)
        return
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ms = [r["latency_s"] * 1000 for r in results if isinstance(r["status"], int)]
    ax1.hist(ms, bins=60)
    ax1.set_xlabel("acknowledgement latency (ms)")
    ax1.set_ylabel("deliveries")
    ax1.axvline(100, color="red", linestyle="--", label="target p99")
    ax1.legend()
    ax2.plot(range(len(ms)), ms, ".", markersize=2)
    ax2.set_xlabel("delivery #")
    ax2.set_ylabel("latency (ms)")
    fig.suptitle("repomind serve: POST /webhooks/github on loopback")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    main()

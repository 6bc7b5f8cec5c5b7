"""Backtest task construction: how many of a repository's past fixes become tasks, and how long each takes.

    python bench/backtest.py --repo /work/repos/marshmallow-code__marshmallow [--limit 5] [--name OWNER/REPO]
        [--since YYYY-MM-DD] [--commits N] [--cache DIR] [--oracle DIR]

Candidates come from the repository's first-parent history (:func:`history_candidates`); each is built
in the real Docker sandbox with the environment the bot sets up (:func:`build_tasks`, cached under
``--cache``: a rerun with the same cache builds nothing). Prints JSON on stdout (candidates built, tasks
kept, the reasons the others were dropped, seconds per candidate), progress on stderr. With
``--oracle DIR``, the kept tasks are replayed with the oracle exactly as ``repomind backtest --model
oracle --tasks`` replays them, and its resolve rate is reported (target: every kept task resolved).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path

from repomind.eval.backtest.tasks import TaskOutcome, build_tasks, history_candidates
from repomind.sandbox import DockerSandbox

HERE = Path(__file__).resolve().parent
# bench/swebench.py would shadow the `swebench` package the oracle's grading imports
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def oracle(clone: Path, tasks: list, out: Path) -> dict:  # type: ignore[type-arg]
    """The oracle's replay of ``tasks`` (:class:`repomind.eval.backtest.replay.Replay`, as
    `repomind backtest --model oracle --tasks` runs it): resolved, rate, seconds per task."""
    from repomind.compose.run import docker_sandbox, limits
    from repomind.eval.backtest.replay import Replay, oracle_boundaries, replay_flags
    from repomind.settings import Settings

    settings = Settings()
    box = docker_sandbox(limits(settings), allowed_images=(), log=lambda _m: None)
    replay = Replay(
        clone, out.resolve(), settings, replay_flags("oracle", None, None), box, oracle_boundaries
    )
    start = time.monotonic()
    data = replay.run(tasks, progress=lambda d, t, label: log(f"oracle {d}/{t} {label}"))
    seconds = time.monotonic() - start
    summary = data["summary"]
    return {
        "resolved": summary["resolved"],
        "graded": summary.get("graded"),
        "resolve_rate": summary["resolve_rate"],
        "not_resolved": [t["instance_id"] for t in data["tasks"] if t["verdict"] != "resolved"],
        "seconds_per_task": round(seconds / len(tasks), 1),
        "report": str(out / "report.json"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, required=True, help="a clone (bare or not) of the repository")
    parser.add_argument("--name", help="OWNER/REPO (default: from the clone's directory, owner__name)")
    parser.add_argument("--limit", type=int, default=5, help="tasks to keep (default 5)")
    parser.add_argument("--since", type=date.fromisoformat, help="no change older than this date")
    parser.add_argument(
        "--commits", type=int, help="build at most this many candidates (the speed target: 50), kept or not"
    )
    parser.add_argument("--cache", type=Path, help="the task cache (default: a temporary directory)")
    parser.add_argument(
        "--oracle",
        type=Path,
        metavar="DIR",
        help="also replay the kept tasks with the oracle (each task's own fix through the bot's edit and "
        "test path, graded as `eval swebench` grades) into DIR, and report its resolve rate",
    )
    args = parser.parse_args()
    name = args.name or args.repo.absolute().name.replace("__", "/", 1)
    cache = args.cache or Path(tempfile.mkdtemp(prefix="backtest-cache-"))
    outcomes: list[TaskOutcome] = []
    times: list[float] = []
    last = [time.monotonic()]

    def progress(kept: int, limit: int, message: str) -> None:
        now = time.monotonic()
        times.append(round(now - last[0], 2))
        last[0] = now
        log(f"{kept}/{limit} kept; {message}")

    start = time.monotonic()
    kept = build_tasks(
        history_candidates(args.repo, since=args.since, limit=args.commits),
        args.repo,
        repo=name,
        sandbox=DockerSandbox(),
        limit=args.limit,
        cache_dir=cache,
        progress=progress,
        outcomes=outcomes,
    )
    total = time.monotonic() - start
    result = {
        "repo": name,
        "limit": args.limit,
        "candidates_built": len(outcomes),
        "tasks_kept": len(kept),
        "dropped": dict(Counter(o.reason for o in outcomes if o.instance is None).most_common()),
        "seconds_total": round(total, 1),
        "seconds_per_candidate": round(total / len(outcomes), 1) if outcomes else None,
        "seconds_each": times,
        "kept": [
            {
                "instance_id": t.instance_id,
                "fail_to_pass": len(t.fail_to_pass),
                "pass_to_pass": len(t.pass_to_pass),
            }
            for t in kept
        ],
        "cache": str(cache),
    }
    if args.oracle is not None and kept:
        result["oracle"] = oracle(args.repo, kept, args.oracle)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Backtest task construction: how many of a repository's past fixes become tasks, and how long each takes.

    python bench/backtest.py --repo /work/repos/marshmallow-code__marshmallow [--limit 5] [--name OWNER/REPO]
        [--since YYYY-MM-DD] [--cache DIR]

Candidates come from the repository's first-parent history (:func:`history_candidates`); each is built
in the real Docker sandbox with the environment the bot sets up (:func:`build_tasks`, cached under
``--cache``: a rerun with the same cache builds nothing). Prints JSON on stdout (candidates built, tasks
kept, the reasons the others were dropped, seconds per candidate), progress on stderr. The oracle's
resolve rate on the kept tasks is the replay's (``repomind backtest --model oracle``).
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


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, required=True, help="a clone (bare or not) of the repository")
    parser.add_argument("--name", help="OWNER/REPO (default: from the clone's directory, owner__name)")
    parser.add_argument("--limit", type=int, default=5, help="tasks to keep (default 5)")
    parser.add_argument("--since", type=date.fromisoformat, help="no change older than this date")
    parser.add_argument("--cache", type=Path, help="the task cache (default: a temporary directory)")
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
        history_candidates(args.repo, since=args.since),
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
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

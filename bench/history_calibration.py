"""History calibration benchmark: how long scoring a repository's past changes takes, and what it gives.

    python bench/history_calibration.py --repo /work/repos/sympy__sympy [--limit 1000] [--snapshot-every 300]
        [--cache DIR] [--no-prewarm] [--dataset F]

Prints JSON on stdout, progress on stderr. The localiser is the one the bot composes by default
(:func:`repomind.compose.build_localiser`: the packaged embedder when installed, as
``REPOMIND_EMBEDDING_MODEL`` says, no re-ranker, the default weights). As in the bot, the index of the
head is built first (untimed unless ``--no-prewarm``): the history pass reuses its blob cache. With
``--dataset`` (SWE-bench-format JSONL with the repository's issues and their ``alpha`` from
``bench/localise.py``'s instances or ``eval localise``'s ``instances.jsonl``), the history's alpha
quantiles are put beside the issues'.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from repomind.compose import build_localiser, resolve
from repomind.compose.config import UNCALIBRATED, Overrides
from repomind.pipeline.localise.calibrate import minimum_size
from repomind.pipeline.localise.history_calibration import score_history
from repomind.settings import Settings


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def quantiles(alphas: list[float]) -> dict[str, float | None]:
    if not alphas:
        return {}
    return {f"q{int(q * 100)}": round(float(np.quantile(alphas, q)), 4) for q in (0.5, 0.8, 0.85, 0.9, 0.95)}


def issue_alphas(path: Path, repo: str) -> list[float]:
    """The ``alpha`` of every record of ``repo`` (``owner/name``) in a JSONL of localisation records."""
    found = []
    for line in path.read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            if record.get("repo") == repo and "alpha" in record:
                found.append(float(record["alpha"]))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, required=True, help="A clone or bare mirror (OWNER__NAME).")
    parser.add_argument("--rev", default=None)
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--snapshot-every", type=int, default=300)
    parser.add_argument("--cache", type=Path, default=None, help="Index cache (default: a fresh temporary one).")
    parser.add_argument("--no-prewarm", action="store_true", help="Do not index the head first.")
    parser.add_argument("--records", type=Path, default=None, help="JSONL of issue records with alpha.")
    parser.add_argument("--out", type=Path, default=None, help="Write the scored history here.")
    args = parser.parse_args()

    cache = args.cache or Path(tempfile.mkdtemp(prefix="repomind-history-bench-"))
    settings = Settings(data_dir=cache)  # the index lands under the bench cache, as under the bot's data dir
    config = resolve(settings, None, Overrides(calibration=UNCALIBRATED))
    name = args.repo.name.replace("__", "/")
    localiser = build_localiser(settings, config, repo=name, log=log)
    try:
        prewarm_s = None
        if not args.no_prewarm:
            started = time.perf_counter()
            localiser.index(args.repo, args.rev)
            prewarm_s = round(time.perf_counter() - started, 2)
            log(f"head indexed in {prewarm_s} s")
        started = time.perf_counter()
        scored = score_history(
            args.repo, args.rev, localiser, limit=args.limit, snapshot_every=args.snapshot_every, repo=name, log=log
        )
        seconds = time.perf_counter() - started
    finally:
        if args.cache is None:
            shutil.rmtree(cache, ignore_errors=True)
    if args.out is not None:
        scored.save(args.out)
    alphas = [e.alpha for e in scored.entries]
    calibration = scored.calibration()
    result = {
        "repo": name,
        "head": scored.head,
        "localiser": {
            "embedder": scored.meta["embedder"],
            "reranker": scored.meta["reranker"],
            "weights": "default" if scored.meta["weights"] == dict(localiser.config.weights) else "custom",
        },
        "cpus": os.cpu_count(),
        "prewarm_head_index_s": prewarm_s,
        "pairs": scored.meta["pairs"],
        "scored": len(scored.entries),
        "stale": scored.meta["stale"],
        "skipped": scored.meta["skipped"],
        "snapshots": len(scored.meta["snapshots"]),
        "seconds": round(seconds, 2),
        "seconds_per_pair": round(seconds / max(1, scored.meta["pairs"]), 4),
        "target_s": 300 if args.limit >= 1000 else None,
        "history_days": round((scored.entries[0].time - scored.entries[-1].time) / 86400, 1) if alphas else 0,
        "alpha": quantiles(alphas),
        "left_out_share": round(sum(a >= 2.0 for a in alphas) / max(1, len(alphas)), 4),
        "enough_for_0.9": len(calibration.alphas) >= minimum_size(0.9),
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
    }
    if args.records is not None:
        issues = issue_alphas(args.records, name)
        result["issues"] = {"n": len(issues), "alpha": quantiles(issues)}
        if issues and alphas:
            # Where the issues' 0.9-quantile alpha falls among the history's alphas: the history's
            # confidence level that matches 0.9 on the issues.
            q = float(np.quantile(issues, 0.9))
            result["issues"]["history_level_of_issue_q90"] = round(float(np.mean(np.asarray(alphas) <= q)), 4)
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

"""Localisation benchmark: accuracy against plain BM25, cross-fitted conformal coverage, ablation, speed.

    python bench/localise.py [--dataset F] [--repos DIR] [--records F] [--history [--history-limit N]]
        [--ablation] [--speed] [--sympy DIR]

Prints JSON. Accuracy and coverage come from the dev set; the calibration is cross-fitted (two folds
split by issue), so no instance is judged by a calibration that saw it; also leaving one issue out,
and leaving one repository out, with the plain quantile and with the shift-robust one the bot uses for
the shared calibration (each judged repository's quantile fitted on the others alone), overall with its
binomial standard error and per repository. ``--history``: each repository calibrated on its own
history before each instance's base commit (one scoring pass per repository, cached under ``--cache``),
as the bot does (at the level learnt from the other dev repositories' issues), beside the same run's
shared numbers and the uncorrected history's; ``--history-limit 300`` reuses the scored histories the
packaged levels were made from (``bench/history_levels.py`` regenerates those); ``as_the_bot``: the
calibration each issue gets in the bot's order (history, else shared), and a set wider than
``max_set_size`` asking for a hint (coverage and sizes over the sets claimed). ``--records``: keep the
rankings in this JSONL and reuse them on the next run. Speed is measured on sympy: a cold index, moving it
to a commit a few hundred commits away, queries, and peak memory.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

from repomind.eval.localise.evaluate import accuracy, apply_calibration, by_repo, claimed, replay, summarise
from repomind.eval.localise.plots import write_plots
from repomind.pipeline import instance as dataset
from repomind.pipeline.localise.calibrate import SHIFT_ROBUST, Calibration
from repomind.pipeline.localise.embed import default_embedder
from repomind.pipeline.localise.index import build_index
from repomind.pipeline.localise.localiser import IndexLocaliser
from repomind.pipeline.localise.rank import DEFAULT_WEIGHTS, RankConfig, rank

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
CONFIDENCES = (0.8, 0.85, 0.9, 0.95)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cross_fitted(records: list[dict], confidence: float) -> dict:
    """Coverage with two folds split by issue: each fold calibrated on the other."""
    folds = [[r for r in records if zlib.crc32(r["instance_id"].encode()) % 2 == k] for k in (0, 1)]
    judged: list[dict] = []
    for k in (0, 1):
        calibration = Calibration(
            [r["alpha"] for r in folds[1 - k]], [r["instance_id"] for r in folds[1 - k]]
        )
        part = [dict(r) for r in folds[k]]
        stats = apply_calibration(part, calibration, confidence)
        if stats["coverage"] is None:
            return {"confidence": confidence, "coverage": None, "mean_set_size": None}
        judged.extend(part)
    sizes = [r["set_size"] for r in judged]
    return {
        "confidence": confidence,
        "coverage": sum(r["covered"] for r in judged) / len(judged),
        "mean_set_size": sum(sizes) / len(sizes),
        "median_set_size": sorted(sizes)[len(sizes) // 2],
        "folds": [len(f) for f in folds],
    }


def held_out(records: list[dict], confidence: float, by: str, *, robust: bool = False) -> dict:
    """Coverage when each issue is judged by a calibration on the issues of other groups: ``by`` is
    ``instance_id`` (leave one out: what a user calibrating on every issue they have gets, ~76 issues)
    or ``repo`` (leave a repository out: how a calibration carries to a repository it has not seen).
    ``robust``: the calibration's shift-robust quantile (the largest of its own leave-one-repository-out
    quantiles, over the other repositories only)."""
    judged = []
    meta = {"quantile": SHIFT_ROBUST} if robust else None
    for record in records:
        others = [r for r in records if r[by] != record[by]]
        calibration = Calibration([r["alpha"] for r in others], [r["instance_id"] for r in others], meta=meta)
        one = [dict(record)]
        if apply_calibration(one, calibration, confidence)["coverage"] is None:
            return {"confidence": confidence, "coverage": None, "mean_set_size": None}
        judged.extend(one)
    return pooled(judged, confidence)


def pooled(judged: list[dict], confidence: float) -> dict:
    """Coverage (with its binomial standard error) and set sizes over the judged records with a set, and
    per repository."""
    with_set = [r for r in judged if r.get("set_size") is not None]
    if not with_set:
        return {"confidence": confidence, "coverage": None, "mean_set_size": None}
    sizes = [r["set_size"] for r in with_set]
    coverage = sum(bool(r["covered"]) for r in with_set) / len(with_set)
    return {
        "confidence": confidence,
        "n": len(with_set),
        "without_set": len(judged) - len(with_set),
        "coverage": round(coverage, 3),
        "standard_error": round(math.sqrt(coverage * (1 - coverage) / len(with_set)), 3),
        "mean_set_size": round(sum(sizes) / len(sizes), 2),
        "median_set_size": sorted(sizes)[len(sizes) // 2],
        "by_repo": {
            repo: {k: round(v, 3) if isinstance(v, float) else v for k, v in stats.items()}
            for repo, stats in by_repo(judged).items()
        },
    }


def history_calibrated(
    items: list, repos: Path, localiser: IndexLocaliser, records: list[dict], args: argparse.Namespace
) -> dict:
    """Each instance judged by its repository's history before its base commit as the bot judges it: at
    the level learnt from the packaged placements of the *other* dev repositories' issues (its own are left
    out, see ``repomind.pipeline.localise.history_levels``), no set where that history is not good enough;
    beside it, ``uncorrected``: the plain quantile of the history's alphas."""
    from repomind.eval.localise.history import history_calibration_for, scored_histories

    started = time.perf_counter()
    scored = scored_histories(
        items, repos, localiser, args.cache / "history", limit=args.history_limit, log=log
    )
    out: dict = {
        "limit": args.history_limit,
        "scoring_s": round(time.perf_counter() - started, 1),
        "pairs": {repo: len(h.entries) for repo, h in scored.items()},
    }
    for confidence in CONFIDENCES:
        judge = history_calibration_for(items, repos, scored, confidence)
        judged = [dict(r) for r in records]
        apply_calibration(judged, judge, confidence)
        out[str(confidence)] = pooled(judged, confidence)
    out["as_the_bot"] = {str(c): as_the_bot(items, repos, scored, records, c) for c in CONFIDENCES}
    plot_as_the_bot(out["as_the_bot"], OUT / "localise" / "as_the_bot.png")
    out["uncorrected"] = {}
    for confidence in CONFIDENCES:
        judge = history_calibration_for(items, repos, scored, confidence, corrected=False)
        judged = [dict(r) for r in records]
        apply_calibration(judged, judge, confidence)
        out["uncorrected"][str(confidence)] = pooled(judged, confidence)
    return out


def as_the_bot(items: list, repos: Path, scored: dict, records: list[dict], confidence: float) -> dict:
    """Each issue as the bot judges it: its repository's history when good enough, else the shared
    calibration with the shift-robust quantile (fitted on the other repositories' issues alone), else no set;
    then a set wider than ``max_set_size`` asks for a hint instead of claiming a confidence. For the
    default (:class:`repomind.repoconfig.RepoConfig`) and the old default (8), and with no limit."""
    from repomind.eval.localise.history import history_calibration_for
    from repomind.pipeline.localise.calibration_source import shortfall
    from repomind.repoconfig import RepoConfig

    history = history_calibration_for(items, repos, scored, confidence)
    source: dict[str, str] = {}

    def chosen(record: dict) -> Calibration | None:
        own = history(record)
        if own is not None:
            source[record["instance_id"]] = "history"
            return own
        others = [r for r in records if r["repo"] != record["repo"]]
        shared = Calibration(
            [r["alpha"] for r in others], [r["instance_id"] for r in others], meta={"quantile": SHIFT_ROBUST}
        )
        if shortfall(shared, confidence):
            return None
        source[record["instance_id"]] = "shared"
        return shared

    judged = [dict(r) for r in records]
    apply_calibration(judged, chosen, confidence)
    out: dict = {"sources": {s: list(source.values()).count(s) for s in ("history", "shared")}}
    out["no_limit"] = pooled(judged, confidence)
    for limit in sorted({RepoConfig().max_set_size, 8}):
        stats = claimed(judged, limit)
        kept = [r for r in judged if r.get("set_size") is not None and r["set_size"] <= limit]
        stats["median_set_size"] = sorted(r["set_size"] for r in kept)[len(kept) // 2] if kept else None
        stats["by_source"] = {
            s: claimed([r for r in kept if source.get(r["instance_id"]) == s], limit)["coverage"]
            for s in ("history", "shared")
        }
        out[f"max_set_size_{limit}"] = stats
    return out


def plot_as_the_bot(stats: dict, path: Path) -> None:
    """Coverage of the sets claimed, the share of issues given a set and the mean set size, against the
    stated confidence, with no limit and for each ``max_set_size``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = [float(c) for c in stats]
    variants = [k for k in next(iter(stats.values())) if k == "no_limit" or k.startswith("max_set_size_")]
    fig, (cov, size) = plt.subplots(1, 2, figsize=(10, 4))
    cov.plot(levels, levels, "k:", label="stated")
    for colour, variant in zip(("C0", "C1", "C2", "C3"), variants, strict=False):
        label = variant.replace("_", " ").replace("max set size ", "max_set_size ")
        rows = [stats[c][variant] for c in stats]
        total = [r["n"] + r.get("hints", 0) for r in rows]
        cov.plot(levels, [r["coverage"] for r in rows], "o-", color=colour, label=f"{label}: coverage")
        cov.plot(
            levels,
            [r["n"] / t for r, t in zip(rows, total, strict=True)],
            "x--",
            color=colour,
            label=f"{label}: given a set",
        )
        size.plot(levels, [r["mean_set_size"] for r in rows], "o-", color=colour, label=label)
    cov.set(
        xlabel="stated confidence", ylabel="share of issues", title="Sets claimed (dev, history else shared)"
    )
    size.set(xlabel="stated confidence", ylabel="mean files in a claimed set", yscale="log")
    cov.legend(fontsize=7)
    size.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def speed(sympy: Path, embedder: object) -> dict:
    """Cold index of sympy, a move to a commit ~300 commits later, and query times, in a fresh cache."""
    old = "sympy-1.1"
    new = subprocess.run(
        ["git", "-C", str(sympy), "rev-list", "--reverse", "--ancestry-path", f"{old}..sympy-1.2"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    target = new[min(300, len(new) - 1)] if new else old
    cache = Path(tempfile.mkdtemp(prefix="repomind-bench-"))
    try:
        started = time.perf_counter()
        cold = build_index(sympy, old, cache_dir=cache, embedder=embedder, log=log)  # type: ignore[arg-type]
        cold_s = time.perf_counter() - started
        started = time.perf_counter()
        moved = build_index(sympy, target, cache_dir=cache, embedder=embedder, log=log)  # type: ignore[arg-type]
        move_s = time.perf_counter() - started
        issues = [
            "Matrix.col_insert() no longer seems to work correctly after the refactoring of matrices",
            "simplify(cos(x)**I) raises TypeError: Invalid comparison of complex I in fu.py",
            "latex printer does not support Trace of a matrix expression, prints Trace(A**2)",
            "lambdify does not work with certain MatrixSymbol names even with dummify=True",
            "Intersection should remove duplicates: Intersection({1},{1},{x}) gives EmptySet",
        ]
        queries = []
        for text in issues:
            started = time.perf_counter()
            rank(moved, text, RankConfig(), embedder)  # type: ignore[arg-type]
            queries.append(time.perf_counter() - started)
        return {
            "repo": "sympy/sympy",
            "files_indexed": len(cold.paths),
            "cold_index_s": round(cold_s, 2),
            "cold_breakdown": {k: round(v, 2) for k, v in cold.timings.items()},
            "move": {
                "from": old,
                "to": target[:12],
                "commits_apart": min(300, len(new)),
                "files_reparsed": int(moved.timings["new_files"]),
            },
            "move_index_s": round(move_s, 2),
            "query_s": {
                "median": round(sorted(queries)[len(queries) // 2], 4),
                "max": round(max(queries), 4),
            },
            "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
            "targets": {"cold_index_s": 120, "move_index_s": 10, "query_s": 0.3, "peak_rss_gib": 4},
        }
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--dataset", type=Path, default=HERE.parent.parent / "shared/data/swebench-lite-dev.jsonl"
    )
    parser.add_argument(
        "--repos", type=Path, default=Path(os.environ.get("REPOMIND_BENCH_REPOS", "/work/repos"))
    )
    parser.add_argument(
        "--cache", type=Path, default=Path(os.environ.get("REPOMIND_BENCH_CACHE", "/work/cache-loc"))
    )
    parser.add_argument("--confidence", type=float, default=0.9)
    parser.add_argument("--ablation", action="store_true", help="Rank again with each signal removed.")
    parser.add_argument("--speed", action="store_true", help="Time indexing and queries on sympy.")
    parser.add_argument("--sympy", type=Path, default=None)
    parser.add_argument("--records", type=Path, default=None, help="Keep (and reuse) the rankings here.")
    parser.add_argument("--history", action="store_true", help="Also calibrate on each repository's history.")
    parser.add_argument("--history-limit", type=int, default=1000)
    args = parser.parse_args()

    embedder = default_embedder()
    items = dataset.load(args.dataset)
    localiser = IndexLocaliser(args.cache, embedder=embedder)
    started = time.perf_counter()
    run = replay(
        items,
        args.repos,
        localiser,
        results=args.records,
        resume=args.records is not None,
        baseline=True,
        progress=lambda d, t, i: i and log(f"[{d + 1}/{t}] {i}"),
    )
    summary = summarise(run, None, args.confidence)
    result: dict = {
        "n": summary["n"],
        "skipped": [s["instance_id"] for s in run.skipped],
        "repomind": {k: round(summary[k], 3) for k in ("acc@1", "acc@3", "acc@5", "acc@10", "mrr")},
        "baseline_bm25_whole_files": {k: round(v, 3) for k, v in summary.get("baseline", {}).items()},
        "conformal_cross_fitted": {str(c): cross_fitted(run.records, c) for c in (0.8, 0.85, 0.9, 0.95)},
        "conformal_leave_one_out": {
            str(c): held_out(run.records, c, "instance_id") for c in (0.8, 0.85, 0.9, 0.95)
        },
        "conformal_leave_one_repository_out": {str(c): held_out(run.records, c, "repo") for c in CONFIDENCES},
        "conformal_leave_one_repository_out_shift_robust": {
            str(c): held_out(run.records, c, "repo", robust=True) for c in CONFIDENCES
        },
        "query_s_median": summary["query_s_median"],
        "seconds": round(time.perf_counter() - started, 1),
    }
    ratio = {
        k: round(result["repomind"][k] / v, 2) for k, v in result["baseline_bm25_whole_files"].items() if v
    }
    result["ratio_to_baseline"] = ratio
    calibration = Calibration([r["alpha"] for r in run.records], [r["instance_id"] for r in run.records])
    write_plots(OUT / "localise", run.records, calibration)
    if args.history:
        result["conformal_history"] = history_calibrated(items, args.repos, localiser, run.records, args)
    if args.ablation:
        ablation = {}
        for signal in DEFAULT_WEIGHTS:
            log(f"ablation: without {signal}")
            loc = IndexLocaliser(args.cache, embedder=embedder, config=RankConfig().without(signal))
            records = replay(items, args.repos, loc).records
            ablation[f"-{signal}"] = {
                k: round(v, 3) for k, v in accuracy([r["hit_rank"] for r in records]).items()
            }
        result["ablation"] = ablation
    if args.speed:
        sympy = args.sympy or args.repos / "sympy__sympy"
        result["speed"] = speed(sympy, embedder)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

"""`repomind eval localise` and `repomind calibrate`: replay localisation on SWE-bench-format data.

Per-instance results are appended to ``instances.jsonl`` as they finish, so an interrupted run loses
nothing and ``resume`` skips what is done.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repomind.pipeline import instance as dataset
from repomind.pipeline.localise.calibrate import Calibration, worst_alpha
from repomind.pipeline.localise.gitread import LocaliseError
from repomind.pipeline.localise.localiser import IndexLocaliser
from repomind.pipeline.localise.rank import DEFAULT_WEIGHTS

KS = (1, 3, 5, 10)
#: The calibration of one record (``--calibration history``: its repository's history before its base
#: commit); None when it has none.
CalibrationFor = Callable[[dict[str, Any]], Calibration | None]
Progress = Callable[[int, int, str], None]
Warn = Callable[[str], None]


@dataclass
class Run:
    records: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)


def replay(
    instances: list[dataset.Instance],
    repos: Path,
    localiser: IndexLocaliser,
    *,
    results: Path | None = None,
    resume: bool = False,
    baseline: bool = False,
    progress: Progress = lambda _d, _t, _i: None,
    warn: Warn = lambda _m: None,
) -> Run:
    """Rank every instance's files; one record per instance (appended to ``results`` as it finishes)."""
    run = Run()
    done: dict[str, dict[str, Any]] = {}
    if results is not None and resume and results.exists():
        for line in results.read_text().splitlines():
            if line.strip():
                record = json.loads(line)
                done[record["instance_id"]] = record
    elif results is not None:
        results.parent.mkdir(parents=True, exist_ok=True)
        results.write_text("")
    for number, instance in enumerate(instances, 1):
        progress(number - 1, len(instances), instance.instance_id)
        if instance.instance_id in done:
            run.records.append(done[instance.instance_id])
            continue
        path = dataset.repo_path(repos, instance.repo)
        if path is None:
            reason = f"repository {instance.repo} is not in {repos}"
            warn(f"{instance.instance_id}: skipped, {reason}")
            run.skipped.append({"instance_id": instance.instance_id, "reason": reason})
            continue
        try:
            record = _one(instance, path, localiser, baseline)
        except LocaliseError as exc:
            warn(f"{instance.instance_id}: skipped, {exc}")
            run.skipped.append({"instance_id": instance.instance_id, "reason": str(exc)})
            continue
        run.records.append(record)
        if results is not None:
            with results.open("a") as out:
                out.write(json.dumps(record) + "\n")
    progress(len(instances), len(instances), "")
    return run


def _one(instance: dataset.Instance, repo: Path, localiser: IndexLocaliser, baseline: bool) -> dict[str, Any]:
    gold = instance.gold_files
    if not gold:
        raise LocaliseError("the gold patch changes no file")
    index, ranking = localiser.rank(repo, instance.problem_statement, instance.base_commit)
    position = {p: i + 1 for i, p in enumerate(ranking.paths)}
    ranks = {g: position.get(g) for g in gold}
    record: dict[str, Any] = {
        "instance_id": instance.instance_id,
        "repo": instance.repo,
        "base_commit": instance.base_commit,
        "gold": gold,
        "ranks": ranks,
        "hit_rank": None if None in ranks.values() else max(r for r in ranks.values() if r is not None),
        "top": [[p, round(s, 6)] for p, s in zip(ranking.paths[:100], ranking.scores, strict=False)],
        "n_files": len(index.paths),
        "alpha": worst_alpha(ranking.paths, ranking.scores, gold),
        "signals": ranking.signals,
        "index_s": round(index.timings.get("index_s", 0.0), 4),
        "new_files": int(index.timings.get("new_files", 0)),
        "query_s": round(ranking.seconds, 4),
    }
    if baseline:
        record["baseline_hit_rank"] = _baseline_rank(repo, instance, gold)
    return record


def _baseline_rank(repo: Path, instance: dataset.Instance, gold: list[str]) -> int | None:
    """Plain bm25s over whole files (default tokeniser, every text file), the issue as the query."""
    import bm25s
    import numpy as np

    from repomind.pipeline.localise import gitread

    listing = gitread.list_files(repo, instance.base_commit)
    wanted = {sha: p for p, (sha, size) in listing.items() if size <= gitread.MAX_FILE_BYTES}
    paths, texts = [], []
    for sha, data in gitread.read_blobs(repo, wanted):
        text = gitread.decode(data)
        if text is not None:
            paths.append(wanted[sha])
            texts.append(text)
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
    query = bm25s.tokenize(instance.problem_statement, stopwords="en", show_progress=False)
    ids = query.ids[0] if query.ids else []
    vocab = {i: t for t, i in query.vocab.items()}
    scores = np.asarray(retriever.get_scores([vocab[i] for i in ids]))
    order = [paths[i] for i in np.argsort(-scores, kind="stable")]
    position = {p: i + 1 for i, p in enumerate(order)}
    hits = [position.get(g) for g in gold]
    return None if None in hits else max(h for h in hits if h is not None)


def accuracy(hit_ranks: list[int | None]) -> dict[str, float]:
    n = len(hit_ranks)
    if n == 0:
        return {**{f"acc@{k}": 0.0 for k in KS}, "mrr": 0.0}
    out = {f"acc@{k}": sum(1 for r in hit_ranks if r is not None and r <= k) / n for k in KS}
    out["mrr"] = sum(1.0 / r for r in hit_ranks if r) / n
    return out


def apply_calibration(
    records: list[dict[str, Any]], calibration: Calibration | CalibrationFor, confidence: float
) -> dict[str, Any]:
    """Coverage and set sizes of ``calibration`` at ``confidence`` on these records (sets added to them).

    One calibration for all: coverage None when it gives no set. One per record (a function): the records
    it gives no set are counted in ``without_set`` and left out of coverage and sizes."""
    sizes, covered, without = [], [], 0
    for record in records:
        own = calibration if isinstance(calibration, Calibration) else calibration(record)
        chosen = None if own is None else own.predict_set(*_padded(record), confidence)
        if chosen is None and isinstance(calibration, Calibration):
            return {"confidence": confidence, "coverage": None, "mean_set_size": None}
        if chosen is None:
            record["set"], record["set_size"], record["covered"] = None, None, None
            without += 1
            continue
        record["set"] = chosen[:50]
        record["set_size"] = len(chosen)
        record["covered"] = all(g in chosen for g in record["gold"])
        sizes.append(len(chosen))
        covered.append(record["covered"])
    stats: dict[str, Any] = {
        "confidence": confidence,
        "coverage": sum(covered) / len(covered) if covered else None,
        "mean_set_size": statistics.fmean(sizes) if sizes else None,
        "median_set_size": statistics.median(sizes) if sizes else None,
    }
    if not isinstance(calibration, Calibration):
        stats["without_set"] = without
    return stats


def _padded(record: dict[str, Any]) -> tuple[list[str], list[float]]:
    """The record's ranking (its top 100) padded with the files it left out, and the scores."""
    paths = [p for p, _ in record["top"]]
    scores = [s for _, s in record["top"]]
    return paths + [f"<unranked {i}>" for i in range(record["n_files"] - len(paths))], scores


def by_repo(records: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Per repository (``owner/name``) of records judged by :func:`apply_calibration`: coverage and mean
    set size over its records with a set, and how many it has."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(record["repo"], []).append(record)
    out: dict[str, dict[str, float | None]] = {}
    for repo, group in sorted(groups.items()):
        judged = [r for r in group if r.get("set_size") is not None]
        out[repo] = {
            "n": len(group),
            "coverage": sum(bool(r["covered"]) for r in judged) / len(judged) if judged else None,
            "mean_set_size": statistics.fmean(r["set_size"] for r in judged) if judged else None,
        }
    return out


def claimed(records: list[dict[str, Any]], max_set_size: int) -> dict[str, Any]:
    """What the bot would state of records judged by :func:`apply_calibration`: a set of at most
    ``max_set_size`` files is claimed, a wider one asks for a hint. Coverage (with its binomial standard
    error) and sizes over the sets claimed; ``hints`` and ``without_set`` (no good enough calibration)."""
    judged = [r for r in records if r.get("set_size") is not None]
    kept = [r for r in judged if r["set_size"] <= max_set_size]
    coverage = sum(bool(r["covered"]) for r in kept) / len(kept) if kept else None
    return {
        "max_set_size": max_set_size,
        "n": len(kept),
        "hints": len(judged) - len(kept),
        "without_set": len(records) - len(judged),
        "coverage": coverage,
        "standard_error": math.sqrt(coverage * (1 - coverage) / len(kept)) if coverage is not None else None,
        "mean_set_size": statistics.fmean(r["set_size"] for r in kept) if kept else None,
    }


def summarise(
    run: Run,
    calibration: Calibration | CalibrationFor | None,
    confidence: float,
    *,
    max_set_size: int | None = None,
) -> dict[str, Any]:
    """Accuracy, and with a calibration its coverage and set sizes, overall and per repository; with
    ``max_set_size``, ``claimed``: the sets the bot would state (:func:`claimed`)."""
    records = run.records
    summary: dict[str, Any] = {"n": len(records), "skipped": run.skipped}
    summary.update(accuracy([r["hit_rank"] for r in records]))
    if records and "baseline_hit_rank" in records[0]:
        summary["baseline"] = accuracy([r.get("baseline_hit_rank") for r in records])
    if calibration is not None:
        summary.update(apply_calibration(records, calibration, confidence))
        if summary["coverage"] is not None:
            repos = by_repo(records)
            summary["coverage_by_repo"] = {k: v["coverage"] for k, v in repos.items()}
            summary["mean_set_size_by_repo"] = {k: v["mean_set_size"] for k, v in repos.items()}
        if max_set_size is not None and summary["coverage"] is not None:
            summary["claimed"] = claimed(records, max_set_size)
    if records:
        cold = [r["index_s"] for r in records]
        summary["index_s_median"] = statistics.median(cold)
        summary["query_s_median"] = statistics.median(r["query_s"] for r in records)
        summary["query_s_max"] = max(r["query_s"] for r in records)
    return summary


def calibration_from(
    run: Run,
    *,
    dataset_name: str,
    reranker: str = "none",
    embedder: str = "none",
    weights: dict[str, float] | None = None,
    source: str = "shared",
) -> Calibration:
    if not run.records:
        raise LocaliseError("no instance could be ranked: nothing to calibrate on")
    return Calibration(
        alphas=[float(r["alpha"]) for r in run.records],
        instances=[r["instance_id"] for r in run.records],
        meta={
            "source": source,
            "dataset": dataset_name,
            "skipped": [s["instance_id"] for s in run.skipped],
            "reranker": reranker,
            "embedder": embedder,
            "weights": dict(weights) if weights is not None else dict(DEFAULT_WEIGHTS),
        },
    )

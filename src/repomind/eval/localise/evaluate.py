"""`repomind eval localise` and `repomind calibrate`: replay localisation on SWE-bench-format data.

Per-instance results are appended to ``instances.jsonl`` as they finish, so an interrupted run loses
nothing and ``resume`` skips what is done.
"""

from __future__ import annotations

import json
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
    records: list[dict[str, Any]], calibration: Calibration, confidence: float
) -> dict[str, Any]:
    """Coverage and set sizes of ``calibration`` at ``confidence`` on these records (sets added to them)."""
    sizes, covered = [], []
    for record in records:
        paths = [p for p, _ in record["top"]]
        scores = [s for _, s in record["top"]]
        padded = paths + [f"<unranked {i}>" for i in range(record["n_files"] - len(paths))]
        chosen = calibration.predict_set(padded, scores, confidence)
        if chosen is None:
            return {"confidence": confidence, "coverage": None, "mean_set_size": None}
        record["set"] = chosen[:50]
        record["set_size"] = len(chosen)
        record["covered"] = all(g in chosen for g in record["gold"])
        sizes.append(len(chosen))
        covered.append(record["covered"])
    return {
        "confidence": confidence,
        "coverage": sum(covered) / len(covered) if covered else None,
        "mean_set_size": statistics.fmean(sizes) if sizes else None,
        "median_set_size": statistics.median(sizes) if sizes else None,
    }


def summarise(run: Run, calibration: Calibration | None, confidence: float) -> dict[str, Any]:
    records = run.records
    summary: dict[str, Any] = {"n": len(records), "skipped": run.skipped}
    summary.update(accuracy([r["hit_rank"] for r in records]))
    if records and "baseline_hit_rank" in records[0]:
        summary["baseline"] = accuracy([r.get("baseline_hit_rank") for r in records])
    if calibration is not None:
        summary.update(apply_calibration(records, calibration, confidence))
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
) -> Calibration:
    if not run.records:
        raise LocaliseError("no instance could be ranked: nothing to calibrate on")
    return Calibration(
        alphas=[float(r["alpha"]) for r in run.records],
        instances=[r["instance_id"] for r in run.records],
        meta={
            "dataset": dataset_name,
            "skipped": [s["instance_id"] for s in run.skipped],
            "reranker": reranker,
            "embedder": embedder,
            "weights": dict(weights) if weights is not None else dict(DEFAULT_WEIGHTS),
        },
    )

"""`eval localise --calibration history`: each instance calibrated on its own repository's history before
its base commit, as the bot calibrates a repository it has never seen.

One scoring pass per repository (up to its newest base commit, at most ``limit`` past changes) serves all
its instances by filtering on time; the pass is kept under ``cache_dir`` and refreshed, not redone, on the
next run. An instance whose history is not good enough (too few changes before it, or a held-out check
that misses) gets no set, as the bot would not claim one from it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from repomind.eval.localise.evaluate import CalibrationFor
from repomind.pipeline import instance as dataset
from repomind.pipeline.localise.calibrate import Calibration
from repomind.pipeline.localise.calibration_source import commit_time, shortfall
from repomind.pipeline.localise.gitread import LocaliseError
from repomind.pipeline.localise.history_calibration import ScoredHistory, score_history
from repomind.pipeline.localise.localiser import IndexLocaliser, mismatch

#: What ``--calibration`` takes to calibrate each instance on its repository's history.
HISTORY = "history"


def scored_histories(
    instances: list[dataset.Instance],
    repos: Path,
    localiser: IndexLocaliser,
    cache_dir: Path,
    *,
    limit: int = 1000,
    log: Callable[[str], None] = lambda _m: None,
) -> dict[str, ScoredHistory]:
    """``owner/name`` → its history scored up to the newest base commit of its instances."""
    by_repo: dict[str, list[dataset.Instance]] = {}
    for instance in instances:
        by_repo.setdefault(instance.repo, []).append(instance)
    scored: dict[str, ScoredHistory] = {}
    for repo, group in sorted(by_repo.items()):
        clone = dataset.repo_path(repos, repo)
        if clone is None:
            continue
        head = max(group, key=lambda i: commit_time(clone, i.base_commit)).base_commit
        cache = cache_dir / f"{repo.replace('/', '__')}.json"
        previous = _cached(cache, localiser)
        if previous is not None and previous.head == head and previous.meta.get("limit") == limit:
            scored[repo] = previous
            continue
        log(f"{repo}: scoring up to {limit} past changes before {head[:12]}")
        history = score_history(clone, head, localiser, limit=limit, repo=repo, previous=previous, log=log)
        history.save(cache)
        scored[repo] = history
    return scored


def _cached(path: Path, localiser: IndexLocaliser) -> ScoredHistory | None:
    """The cached pass when it exists, is readable and was scored as this localiser scores."""
    if not path.is_file():
        return None
    try:
        history = ScoredHistory.load(path)
    except LocaliseError:
        return None
    problem = mismatch(
        history.calibration(), localiser.embedder, localiser.reranker, localiser.config.weights
    )
    return None if problem else history


def history_calibration_for(
    instances: list[dataset.Instance],
    repos: Path,
    scored: dict[str, ScoredHistory],
    confidence: float,
    *,
    corrected: bool = True,
) -> CalibrationFor:
    """Each record's calibration: its repository's history before its base commit, when good enough; at
    the level learnt from the other repositories' issues (``corrected``, as the bot uses it: the packaged
    placements without the record's own repository), or at the plain quantile."""
    before: dict[str, int] = {}
    for instance in instances:
        clone = dataset.repo_path(repos, instance.repo)
        if clone is not None and instance.repo in scored:
            before[instance.instance_id] = commit_time(clone, instance.base_commit)

    def calibration(record: dict[str, Any]) -> Calibration | None:
        history = scored.get(record["repo"])
        if history is None or record["instance_id"] not in before:
            return None
        own = history.calibration(before=before[record["instance_id"]], corrected=corrected)
        return None if shortfall(own, confidence) else own

    return calibration

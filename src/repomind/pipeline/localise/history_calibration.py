"""The conformal calibration from a repository's own history: its past changes scored as of their time.

One pass scores every pair of :func:`~repomind.pipeline.localise.history_commits.history_pairs` with the
localiser's own ranking, so the alphas are comparable with those of the issues it will localise. The index
is not built per pair: the pairs are taken oldest first in groups of about ``snapshot_every``, and each
group is ranked on one snapshot, the revision its oldest change was made on, which the index moves to as
it moves between any two commits (only blobs it has not seen are parsed and embedded). Ranking on that
snapshot never lets a change see itself: neither its own content nor its own message (the history signal)
is in the index yet. A change to a file created after its snapshot cannot be ranked there: the index moves on
early for it when the snapshot has served half its group or left out several changes (a moved tree), and
else the change is left out.

Only history before the revision being localised may calibrate it, so the scored history keeps each
change's time and :meth:`ScoredHistory.calibration` filters on it: one pass serves every revision. It is
stored beside the index (:func:`history_file`); a refresh scores only the changes the last pass lacked.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from repomind.pipeline.localise import gitread
from repomind.pipeline.localise.calibrate import (
    SCORE_VERSION,
    Calibration,
    read_versioned,
    worst_alpha,
    write_versioned,
)
from repomind.pipeline.localise.embed import Embedder, embedding_name
from repomind.pipeline.localise.gitread import LocaliseError
from repomind.pipeline.localise.history_commits import HistoryPair, history_pairs
from repomind.pipeline.localise.history_levels import HistoryLevels, builtin_levels
from repomind.pipeline.localise.localiser import IndexLocaliser
from repomind.pipeline.localise.rank import clean_issue, rank
from repomind.pipeline.localise.rerank import describe

FORMAT = "repomind-history-calibration"
FILE_NAME = "history-calibration.json"

Log = Callable[[str], None]
#: After this many pairs left out on one snapshot (their files are newer), the index moves on early.
STALE_MOVE = 10


def history_file(index_dir: Path) -> Path:
    """Where a repository's scored history is stored: beside its index."""
    return index_dir / FILE_NAME


@dataclass(frozen=True)
class HistoryEntry:
    commit: str
    parent: str
    time: int
    alpha: float
    n_files: int


@dataclass
class ScoredHistory:
    repo: str
    #: The revision the history was scored up to.
    head: str
    #: Newest first.
    entries: list[HistoryEntry]
    #: embedder, reranker, weights, score_version, snapshot_every, snapshots, skipped, seconds, ...
    meta: dict[str, Any] = field(default_factory=dict)

    def save(self, path: Path) -> None:
        data = {
            "format": FORMAT,
            "score_version": SCORE_VERSION,
            "repo": self.repo,
            "head": self.head,
            "meta": self.meta,
            "entries": [asdict(e) for e in self.entries],
        }
        write_versioned(path, data, indent=0)

    @classmethod
    def load(cls, path: Path) -> ScoredHistory:
        data = read_versioned(path, fmt=FORMAT, kind="history calibration", again="it must be scored again")
        try:
            entries = [
                HistoryEntry(
                    str(e["commit"]), str(e["parent"]), int(e["time"]), float(e["alpha"]), int(e["n_files"])
                )
                for e in data["entries"]
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise LocaliseError(f"{path} has a malformed entry: {exc}") from None
        return cls(
            str(data.get("repo", "")), str(data.get("head", "")), entries, dict(data.get("meta") or {})
        )

    def calibration(
        self,
        *,
        before: int | None = None,
        exclude: Collection[str] = (),
        max_files: int | None = None,
        corrected: bool = True,
        levels: HistoryLevels | None = None,
    ) -> Calibration:
        """The calibration on the changes made before ``before`` (unix seconds; all when None), without
        the commits in ``exclude`` (full SHAs, or prefixes of at least 7 digits), and, with ``max_files``,
        only changes of at most that many source files (a change of several files is judged by its
        worst-ranked one, so its alpha is higher: SWE-bench Lite's issues each change one file).

        ``corrected`` (the default): its sets use the level learnt from issues of other repositories
        (``levels``, the packaged ones when None, always without this repository's own: see
        :mod:`.history_levels`) in ``meta["level"]``; False: the plain quantile of past changes."""
        excluded = {c.lower() for c in exclude}
        prefixes = tuple(c for c in excluded if 7 <= len(c) < 40)
        kept = [
            e
            for e in self.entries
            if (before is None or e.time < before)
            and e.commit not in excluded
            and not (prefixes and e.commit.startswith(prefixes))
            and (max_files is None or e.n_files <= max_files)
        ]
        scoring = {
            k: v for k, v in self.meta.items() if k in ("embedder", "reranker", "weights", "snapshot_every")
        }
        return Calibration(
            alphas=[e.alpha for e in kept],
            instances=[e.commit for e in kept],
            meta={
                **scoring,
                "source": "history",
                "n": len(kept),
                "repo": self.repo,
                "head": self.head,
                "before": before,
                "max_files": max_files,
                "dataset": f"past changes of {self.repo}",
                **({"level": (levels or builtin_levels()).without(self.repo).to_meta()} if corrected else {}),
            },
        )


def score_history(
    clone: Path,
    rev: str | None,
    localiser: IndexLocaliser,
    *,
    limit: int = 1000,
    snapshot_every: int = 300,
    repo: str = "",
    previous: ScoredHistory | None = None,
    log: Log = lambda _m: None,
) -> ScoredHistory:
    """Score up to ``limit`` past changes of ``rev``'s history (see the module docstring). With
    ``previous`` (an earlier pass with the same scoring), only the changes it lacks are scored."""
    if snapshot_every < 1:
        raise LocaliseError(f"snapshot_every must be at least 1, not {snapshot_every}")
    started = time.perf_counter()
    head = gitread.resolve(clone, rev)
    scoring = {
        "embedder": embedding_name(localiser.embedder),
        "reranker": describe(localiser.reranker),
        "weights": dict(localiser.config.weights),
    }
    reasons: Counter[str] = Counter()
    pairs = history_pairs(clone, head, limit=limit, ignore=localiser.ignore, reasons=reasons)
    known: dict[str, HistoryEntry] = {}
    if previous is not None and all(previous.meta.get(k) == v for k, v in scoring.items()):
        known = {e.commit: e for e in previous.entries}
    todo = [p for p in reversed(pairs) if p.commit not in known]  # oldest first
    log(f"{len(pairs)} past changes, {len(todo)} to score ({len(pairs) - len(todo)} scored before)")
    queries = _Queries(localiser.embedder, [p.description for p in todo]) if localiser.embedder else None
    fresh, snapshots, stale = _score(clone, localiser, queries, todo, snapshot_every, log)
    by_commit = {**known, **{e.commit: e for e in fresh}}
    entries = [by_commit[p.commit] for p in pairs if p.commit in by_commit]
    meta = {
        **scoring,
        "score_version": SCORE_VERSION,
        "snapshot_every": snapshot_every,
        "limit": limit,
        "pairs": len(pairs),
        "scored": len(fresh),
        "snapshots": snapshots,
        "stale": stale,
        "skipped": dict(reasons),
        "seconds": round(time.perf_counter() - started, 2),
    }
    return ScoredHistory(repo or clone.name.removesuffix(".git").replace("__", "/"), head, entries, meta)


class _Queries:
    """The localiser's embedder, with the descriptions' vectors computed in batches up front (the ranking
    embeds its query one at a time, which costs more than the rest of a query together)."""

    def __init__(self, embedder: Embedder, descriptions: list[str]) -> None:
        self.name = embedder.name
        self._embedder = embedder
        texts = list(dict.fromkeys(clean_issue(d)[:2000] for d in descriptions))
        vectors = embedder.embed(texts) if texts else np.zeros((0, 1), dtype=np.float32)
        self._known = {text: vectors[i] for i, text in enumerate(texts)}

    def embed(self, texts: list[str]) -> np.ndarray:
        if all(t in self._known for t in texts):
            return np.stack([self._known[t] for t in texts])
        return self._embedder.embed(texts)


def _score(
    clone: Path,
    localiser: IndexLocaliser,
    queries: Embedder | None,
    pairs: list[HistoryPair],
    every: int,
    log: Log,
) -> tuple[list[HistoryEntry], list[str], int]:
    """(entries, snapshot commits, pairs left out because a file of theirs is newer than their snapshot).

    The index moves to the next pair's parent after ``every`` pairs, or earlier for a pair whose files it
    lacks (a file created since, or a tree moved, as ``requests/`` to ``src/requests/``): once the snapshot
    has served half its group, or once :data:`STALE_MOVE` pairs were left out on it (a moved tree leaves
    out every pair after it)."""
    entries: list[HistoryEntry] = []
    snapshots: list[str] = []
    stale = 0
    present: Collection[str] = ()
    on_snapshot = left_out = 0
    index = None
    for number, pair in enumerate(pairs, 1):
        missing = any(f not in present for f in pair.files)
        early = missing and (on_snapshot >= max(1, every // 2) or left_out >= STALE_MOVE)
        if index is None or on_snapshot >= every or early:
            index = localiser.index(clone, pair.parent)
            present = gitread.list_files(clone, pair.parent).keys()
            snapshots.append(pair.parent)
            on_snapshot = left_out = 0
            log(
                f"snapshot {len(snapshots)} at {pair.parent[:12]}: {len(index.paths)} files "
                f"({number}/{len(pairs)})"
            )
        on_snapshot += 1
        if any(f not in present for f in pair.files):
            stale += 1
            left_out += 1
            continue
        ranking = rank(index, pair.description, localiser.config, queries, localiser.reranker)
        alpha = worst_alpha(ranking.paths, ranking.scores, list(pair.files))
        entries.append(HistoryEntry(pair.commit, pair.parent, pair.time, alpha, len(pair.files)))
    return entries, snapshots, stale

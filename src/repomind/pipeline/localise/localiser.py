"""The real Localiser: index (cached by blob), rank, and calibrate when a calibration is given."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from repomind.pipeline.localise.calibrate import Calibration
from repomind.pipeline.localise.calibration_source import Chosen, HistorySource, choose
from repomind.pipeline.localise.embed import Embedder, embedding_name
from repomind.pipeline.localise.gitread import LocaliseError
from repomind.pipeline.localise.index import DEFAULT_IGNORE, RepoIndex, build_index
from repomind.pipeline.localise.rank import DEFAULT_WEIGHTS, RankConfig, Ranking, rank
from repomind.pipeline.localise.rerank import Reranker, describe
from repomind.pipeline.localise.result import GUARANTEE_NOTE, UNCALIBRATED, Localisation, RankedFile

Log = Callable[[str], None]


def mismatch(
    calibration: Calibration,
    embedder: Embedder | None,
    reranker: Reranker | None,
    weights: dict[str, float] | None = None,
) -> str:
    """Why ``calibration``'s scores are not comparable with this localiser's, or "" when they are
    (``weights`` None: the default fusion weights)."""
    embedded_with, reranked_with = calibration.made_with()
    if (reranked_with or "none") != describe(reranker):
        return (
            f"the calibration was made with re-ranker {reranked_with or 'none'!r} and this localiser uses "
            f"{describe(reranker)!r}: their scores differ, so calibrate again with the same --rerank"
        )
    embedding = embedding_name(embedder)
    if embedded_with is not None and embedded_with != embedding:
        return (
            f"the calibration was made with embedding model {embedded_with!r} and this localiser uses "
            f"{embedding!r}: their scores differ, so calibrate again with the same REPOMIND_EMBEDDING_MODEL"
        )
    calibrated_with = calibration.weights()
    if calibrated_with is not None:
        differ = weight_changes(calibrated_with, weights or DEFAULT_WEIGHTS, reranked=reranker is not None)
        if differ:
            return (
                f"the calibration was made with other fusion weights ({differ}): their scores differ, so "
                "calibrate again with the same --weights"
            )
    return ""


def weight_changes(calibrated: dict[str, float], current: dict[str, float], *, reranked: bool) -> str:
    """``signal calibrated → current`` for each weight that differs ("" when none does); the re-ranker's
    weight counts only where there is a re-ranker."""
    changes = []
    for signal in sorted(calibrated.keys() | current.keys()):
        if signal == "rerank" and not reranked:
            continue
        before, now = calibrated.get(signal, 0.0), current.get(signal, 0.0)
        if abs(before - now) > 1e-9:
            changes.append(f"{signal} {before:g} → {now:g}")
    return ", ".join(changes)


def builtin_calibration(
    embedder: Embedder | None, reranker: Reranker | None, weights: dict[str, float] | None = None
) -> Calibration | None:
    """The packaged calibration when its scores are comparable with this localiser's, else None."""
    calibration = Calibration.builtin()
    return None if mismatch(calibration, embedder, reranker, weights) else calibration


class IndexLocaliser:
    """Ranks a repository's files for an issue and, with a calibration, returns the conformal set.

    The last index is kept in memory, so several issues of one revision share it; indexes of other
    revisions reuse the on-disk blob cache under ``cache_dir``.

    ``calibration`` is the one given (the run's choice, the repository's own or the shared one);
    ``history`` the repository's history calibration before a revision; ``gated``: choose between them
    and refuse one that is not good enough (:mod:`~repomind.pipeline.localise.calibration_source`).
    """

    def __init__(
        self,
        cache_dir: Path,
        *,
        embedder: Embedder | None,
        config: RankConfig | None = None,
        calibration: Calibration | None = None,
        confidence: float = 0.9,
        ignore: tuple[str, ...] = (),
        top_k: int = 10,
        reranker: Reranker | None = None,
        vector_server: str | None = None,
        history: HistorySource | None = None,
        gated: bool = False,
        log: Log = lambda _msg: None,
    ) -> None:
        self.config = config or RankConfig()
        if calibration is not None:
            problem = mismatch(calibration, embedder, reranker, self.config.weights)
            if problem:
                raise LocaliseError(problem)
        self.cache_dir = cache_dir
        self.embedder = embedder
        self.calibration = calibration
        self.confidence = confidence
        self.ignore = DEFAULT_IGNORE + tuple(ignore)
        self.top_k = top_k
        self.reranker = reranker
        self.vector_server = vector_server
        self.history = history
        self.gated = gated
        self.log = log
        self._index: RepoIndex | None = None

    def index(self, repo: Path, rev: str | None = None) -> RepoIndex:
        from repomind.pipeline.localise import gitread

        commit = gitread.resolve(repo, rev)
        if self._index is None or self._index.repo != repo or self._index.commit != commit:
            self._index = build_index(
                repo,
                commit,
                cache_dir=self.cache_dir,
                embedder=self.embedder,
                ignore=self.ignore,
                vector_server=self.vector_server,
                log=self.log,
            )
        return self._index

    def rank(self, repo: Path, issue_text: str, rev: str | None = None) -> tuple[RepoIndex, Ranking]:
        if not issue_text.strip():
            raise LocaliseError("the issue is empty: there is nothing to localise")
        index = self.index(repo, rev)
        return index, rank(index, issue_text, self.config, self.embedder, self.reranker)

    def choose_calibration(self, repo: Path, commit: str) -> Chosen:
        """The calibration a set of ``commit`` rests on (its source "none" when there is none)."""
        return choose(self.calibration, self.history, repo, commit, self.confidence, gated=self.gated)

    def localise(self, work_tree: Path, issue_text: str, rev: str | None = None) -> Localisation:
        started = time.perf_counter()
        index, ranking = self.rank(work_tree, issue_text, rev)
        chosen: list[str] | None = None
        rests_on = self.choose_calibration(work_tree, index.commit)
        calibration = rests_on.calibration
        if calibration is None:
            note = (
                f"no calibration: {rests_on.reason}"
                if self.gated or self.calibration is not None
                else "no calibration given: the files are ranked but no set is calibrated"
            )
        else:
            chosen = calibration.predict_set(ranking.paths, ranking.scores, self.confidence)
            note = (
                f"{GUARANTEE_NOTE} Calibration data: {calibration.describe()}."
                if chosen is not None
                else calibration.too_small_reason(self.confidence)
            )
        signals = list(ranking.signals)
        if ranking.note:
            note = f"{note} {ranking.note}." if note else f"{ranking.note}."
        if self.embedder is None:
            note = (
                note + " " if note else ""
            ) + "dense similarity is off (no local embedding model installed)."
        return Localisation(
            files=[
                RankedFile(p, s)
                for p, s in zip(
                    ranking.paths[: max(self.top_k, len(chosen or []))], ranking.scores, strict=False
                )
            ],
            set=chosen,
            confidence=self.confidence,
            signals=signals,
            note=note,
            calibration=rests_on.to_json() if chosen is not None else dict(UNCALIBRATED),
            timings={
                "index_s": index.timings.get("index_s", 0.0),
                "query_s": ranking.seconds,
                "total_s": time.perf_counter() - started,
            },
        )

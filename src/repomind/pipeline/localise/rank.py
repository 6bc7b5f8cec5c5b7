"""Fusing the signals: reciprocal rank fusion with configurable weights, then Personalized PageRank."""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field, replace

import numpy as np

from repomind.pipeline.llm import BudgetExceeded, LLMError
from repomind.pipeline.localise.embed import Embedder
from repomind.pipeline.localise.graph import personalized_pagerank
from repomind.pipeline.localise.index import RepoIndex, embedding_text
from repomind.pipeline.localise.mentions import mention_scores
from repomind.pipeline.localise.rerank import Candidate, Reranker, RerankError
from repomind.pipeline.localise.tokens import tokenize

SIGNALS = ("bm25", "dense", "path", "frame", "dotted", "identifier", "history", "graph", "rerank")
#: Signals whose scores, not only their order, count in the fusion (see ``_blend``).
SCORED = ("bm25", "dense", "path", "frame", "dotted", "identifier", "history")

# Tuned on the SWE-bench Lite dev split for rank fusion alone; then, for the blend with scores, path
# raised by half and history lowered by a third, the steps that most folds of a nested search for
# narrower sets took, each fold leaving one repository out (README).
DEFAULT_WEIGHTS = {
    "bm25": 2.5,
    "dense": 1.0,
    "path": 2.25,
    "frame": 1.0,
    "dotted": 0.5,
    "identifier": 1.0,
    "history": 0.67,
    "graph": 0.25,
    # Only with a re-ranker (``--rerank``); not tuned, since no re-ranker model can be had offline here.
    "rerank": 6.0,
}

_NOT_SOURCE = re.compile(
    r"(^|/)(tests?|testing|docs?|doc_src|examples?|benchmarks?|scripts?)/|(^|/)(test_[^/]*|[^/]*_tests?\.py|conftest\.py|setup\.py)$"
)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)


@dataclass(frozen=True)
class RankConfig:
    """Weights of reciprocal rank fusion, its constant, and the prior against tests and docs."""

    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    rrf_k: float = 10.0
    depth: int = 100
    not_source_factor: float = 0.35
    #: The blend of scores and ranks (``_blend``): the power of each signal's relative score, and the
    #: share of the rank fusion. Chosen on the dev set, leaving each repository out (README).
    score_power: float = 3.0
    rrf_share: float = 1.0
    ppr_seeds: int = 10
    #: How many of the fused ranking's head a re-ranker scores.
    rerank_depth: int = 20

    def without(self, signal: str) -> RankConfig:
        weights = dict(self.weights)
        weights[signal] = 0.0
        return replace(self, weights=weights)


@dataclass
class Ranking:
    """Every indexed file with its fused score, best first, and which signals contributed."""

    paths: list[str]
    scores: list[float]
    signals: list[str]
    seconds: float
    #: Why a configured re-ranker did not contribute (empty when it did or none was configured).
    note: str = ""


def not_source(path: str) -> bool:
    """Tests, docs, examples, scripts and ``setup.py``: ranked down, and not what a fix is judged on."""
    return _NOT_SOURCE.search(path) is not None


def clean_issue(text: str) -> str:
    """The issue without HTML comments (templates' hidden instructions)."""
    return _HTML_COMMENT.sub(" ", text)


def _top(scores: dict[int, float] | np.ndarray, depth: int) -> dict[int, float]:
    """The ``depth`` best-scoring files with a positive score, best first (ties by index)."""
    if isinstance(scores, np.ndarray):
        order = np.argsort(-scores, kind="stable")[:depth]
        return {int(i): float(scores[i]) for i in order if scores[i] > 0}
    return {i: float(scores[i]) for i in _order(scores)[:depth] if scores[i] > 0}


def _order(scores: dict[int, float]) -> list[int]:
    return [i for i, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))]


def signal_scores(
    index: RepoIndex, issue: str, config: RankConfig, embedder: Embedder | None
) -> dict[str, dict[int, float]]:
    """Each signal's best files for the issue with their scores (file index → score, best first); the
    graph comes later, from these."""
    issue = clean_issue(issue)
    weights = config.weights
    per_signal: dict[str, dict[int, float]] = {}
    if weights.get("bm25", 0) > 0 and index.paths:
        query = tokenize(issue)
        if query:
            bm25_scores = np.asarray(index.bm25.get_scores(query))  # type: ignore[attr-defined]
            per_signal["bm25"] = _top(bm25_scores, config.depth)
    if weights.get("dense", 0) > 0 and embedder is not None and index.vectors is not None and index.paths:
        query_vector = embedder.embed([issue[:2000]])[0]
        per_signal["dense"] = _top(index.vectors @ query_vector + 1.0, config.depth)
    for kind, scores in mention_scores(index, issue).items():
        if weights.get(kind, 0) > 0 and scores:
            per_signal[kind] = _top(scores, config.depth)
    if weights.get("history", 0) > 0:
        history = _history_scores(index, issue)
        if history:
            per_signal["history"] = _top(history, config.depth)
    return {kind: top for kind, top in per_signal.items() if top}


def _history_scores(index: RepoIndex, issue: str, similar: int = 30) -> dict[int, float]:
    """Files changed by the earlier commits whose messages are most like the issue."""
    retriever, changed = index.history
    query = tokenize(issue)
    if retriever is None or not query:
        return {}
    scores = np.asarray(retriever.get_scores(query))  # type: ignore[attr-defined]
    result: dict[int, float] = {}
    for c in np.argsort(-scores)[:similar]:
        if scores[c] <= 0:
            break
        files = changed[int(c)]
        for f in files:
            result[f] = result.get(f, 0.0) + float(scores[c]) / len(files) ** 0.5
    return result


def fuse(
    index: RepoIndex, per_signal: dict[str, dict[int, float]], config: RankConfig
) -> tuple[list[int], list[float], list[str]]:
    """Reciprocal rank fusion, then the graph signal seeded by it; blended with the signals' own scores;
    then the prior against non-source files; then a re-ranker's order (``rerank``), if there is one."""
    weights = config.weights
    ranked = {kind: _order(scores) for kind, scores in per_signal.items()}
    rerank = ranked.pop("rerank", [])
    fused = _fuse(ranked, weights, config.rrf_k)
    if weights.get("graph", 0) > 0 and fused:
        seeds = dict(sorted(fused.items(), key=lambda kv: -kv[1])[: config.ppr_seeds])
        ppr = personalized_pagerank(index.graph, seeds)
        if ppr:
            for s in seeds:  # the graph signal should surface neighbours, not repeat the seeds
                ppr[s] = 0.0
            ranked["graph"] = _order(_top(ppr, config.depth))
            fused = _fuse(ranked, weights, config.rrf_k)
    fused, unit = _blend(fused, per_signal, config)
    for i in list(fused):
        if not_source(index.paths[i]):
            fused[i] *= config.not_source_factor
    # The re-ranker's term comes after the prior: it may judge a test or doc file to be the one.
    for position, i in enumerate(rerank):
        fused[i] = fused.get(i, 0.0) + unit * weights.get("rerank", 0.0) / (config.rrf_k + position + 1)
    if rerank:
        ranked["rerank"] = rerank
    order = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))
    used = [s for s in SIGNALS if ranked.get(s) and weights.get(s, 0) > 0]
    return [i for i, _ in order], [float(v) for _, v in order], used


def _blend(
    rrf: dict[int, float], per_signal: dict[str, dict[int, float]], config: RankConfig
) -> tuple[dict[int, float], float]:
    """``Σ weight · (score / signal's best score) ^ score_power`` over the scored signals, scaled to a best
    of 1, plus ``rrf_share`` times the rank fusion scaled the same way; and what one unit of rank fusion
    is worth in the blend. Ranks alone say how files compare within a signal; the scores also say by how
    much, which is what makes a confident ranking's head stand out (and its calibrated set small)."""
    scored: dict[int, float] = {}
    for kind in SCORED:
        weight = config.weights.get(kind, 0.0)
        top = per_signal.get(kind)
        if weight <= 0 or not top:
            continue
        best = max(top.values())
        for i, value in top.items():
            scored[i] = scored.get(i, 0.0) + weight * (value / best) ** config.score_power
    if not scored or not rrf:
        return rrf, 1.0
    scale, unit = max(scored.values()), config.rrf_share / max(rrf.values())
    return {i: scored.get(i, 0.0) / scale + unit * rrf.get(i, 0.0) for i in scored.keys() | rrf.keys()}, unit


def rank(
    index: RepoIndex,
    issue: str,
    config: RankConfig,
    embedder: Embedder | None,
    reranker: Reranker | None = None,
) -> Ranking:
    """Rank the index's files for the issue, best first; a re-ranker then reorders the head."""
    started = time.perf_counter()
    per_signal = signal_scores(index, issue, config, embedder)
    order, scores, used = fuse(index, per_signal, config)
    note = ""
    if reranker is not None and config.weights.get("rerank", 0) > 0 and order:
        reranked, note = _rerank(index, clean_issue(issue), order, config, reranker)
        if not note:
            order, scores, used = fuse(index, {**per_signal, "rerank": reranked}, config)
            used = used if "rerank" in used else [*used, "rerank"]
    return Ranking(
        paths=[index.paths[i] for i in order],
        scores=scores,
        signals=used,
        seconds=time.perf_counter() - started,
        note=note,
    )


def _rerank(
    index: RepoIndex, issue: str, order: list[int], config: RankConfig, reranker: Reranker
) -> tuple[dict[int, float], str]:
    """The re-ranker's order of the head (file index → n for the best of n), or the reason it is unusable."""
    head = order[: config.rerank_depth]
    candidates = [Candidate(index.paths[i], embedding_text(index.paths[i], index.summaries[i])) for i in head]
    try:
        values = reranker.scores(issue, candidates)
    except (LLMError, BudgetExceeded, RerankError) as exc:
        return {}, f"the re-ranker {reranker.name} was not used: {exc}"
    # Files the re-ranker gave no finite score (an LLM's unnamed candidates) get no term.
    ranked = sorted((j for j in range(len(head)) if math.isfinite(values[j])), key=lambda j: (-values[j], j))
    return {head[j]: float(len(ranked) - position) for position, j in enumerate(ranked)}, ""


def _fuse(per_signal: dict[str, list[int]], weights: dict[str, float], k: float) -> dict[int, float]:
    fused: dict[int, float] = {}
    for signal, ranked in per_signal.items():
        weight = weights.get(signal, 0.0)
        for position, i in enumerate(ranked):
            fused[i] = fused.get(i, 0.0) + weight / (k + position + 1)
    return fused

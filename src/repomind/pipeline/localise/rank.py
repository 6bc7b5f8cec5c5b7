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

# Tuned on the SWE-bench Lite dev split (leave-one-repository-out: Acc@1 0.57, Acc@5 0.82).
DEFAULT_WEIGHTS = {
    "bm25": 2.5,
    "dense": 1.0,
    "path": 1.5,
    "frame": 1.0,
    "dotted": 0.5,
    "identifier": 1.0,
    "history": 1.0,
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


def _ranks(scores: dict[int, float] | np.ndarray, depth: int) -> list[int]:
    if isinstance(scores, np.ndarray):
        order = np.argsort(-scores, kind="stable")[:depth]
        return [int(i) for i in order if scores[i] > 0]
    return [i for i, s in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:depth] if s > 0]


def signal_ranks(
    index: RepoIndex, issue: str, config: RankConfig, embedder: Embedder | None
) -> dict[str, list[int]]:
    """Each signal's ranking (file indexes, best first) for the issue; the graph comes later, from these."""
    issue = clean_issue(issue)
    weights = config.weights
    per_signal: dict[str, list[int]] = {}
    if weights.get("bm25", 0) > 0 and index.paths:
        query = tokenize(issue)
        if query:
            bm25_scores = np.asarray(index.bm25.get_scores(query))  # type: ignore[attr-defined]
            per_signal["bm25"] = _ranks(bm25_scores, config.depth)
    if weights.get("dense", 0) > 0 and embedder is not None and index.vectors is not None and index.paths:
        query_vector = embedder.embed([issue[:2000]])[0]
        per_signal["dense"] = _ranks(index.vectors @ query_vector + 1.0, config.depth)
    for kind, scores in mention_scores(index, issue).items():
        if weights.get(kind, 0) > 0 and scores:
            per_signal[kind] = _ranks(scores, config.depth)
    if weights.get("history", 0) > 0:
        history = _history_scores(index, issue)
        if history:
            per_signal["history"] = _ranks(history, config.depth)
    return per_signal


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
    index: RepoIndex, per_signal: dict[str, list[int]], config: RankConfig
) -> tuple[list[int], list[float], list[str]]:
    """Reciprocal rank fusion, then the graph signal seeded by it, then the prior against non-source files."""
    weights = config.weights
    per_signal = dict(per_signal)
    fused = _fuse(per_signal, weights, config.rrf_k)
    if weights.get("graph", 0) > 0 and fused:
        seeds = dict(sorted(fused.items(), key=lambda kv: -kv[1])[: config.ppr_seeds])
        ppr = personalized_pagerank(index.graph, seeds)
        if ppr:
            for s in seeds:  # the graph signal should surface neighbours, not repeat the seeds
                ppr[s] = 0.0
            per_signal["graph"] = _ranks(ppr, config.depth)
            fused = _fuse(per_signal, weights, config.rrf_k)
    for i in list(fused):
        if not_source(index.paths[i]):
            fused[i] *= config.not_source_factor
    order = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))
    used = [s for s in SIGNALS if per_signal.get(s) and weights.get(s, 0) > 0]
    return [i for i, _ in order], [float(v) for _, v in order], used


def rank(
    index: RepoIndex,
    issue: str,
    config: RankConfig,
    embedder: Embedder | None,
    reranker: Reranker | None = None,
) -> Ranking:
    """Rank the index's files for the issue, best first; a re-ranker then reorders the head."""
    started = time.perf_counter()
    order, scores, used = fuse(index, signal_ranks(index, issue, config, embedder), config)
    note = ""
    if reranker is not None and config.weights.get("rerank", 0) > 0 and order:
        order, scores, note = _rerank(index, clean_issue(issue), order, scores, config, reranker)
        if not note:
            used.append("rerank")
    return Ranking(
        paths=[index.paths[i] for i in order],
        scores=scores,
        signals=used,
        seconds=time.perf_counter() - started,
        note=note,
    )


def _rerank(
    index: RepoIndex,
    issue: str,
    order: list[int],
    scores: list[float],
    config: RankConfig,
    reranker: Reranker,
) -> tuple[list[int], list[float], str]:
    """Add the re-ranker's order of the head as one more reciprocal-rank term, then sort again."""
    head = order[: config.rerank_depth]
    candidates = [Candidate(index.paths[i], embedding_text(index.paths[i], index.summaries[i])) for i in head]
    try:
        values = reranker.scores(issue, candidates)
    except (LLMError, BudgetExceeded, RerankError) as exc:
        return order, scores, f"the re-ranker {reranker.name} was not used: {exc}"
    fused = dict(zip(order, scores, strict=True))
    weight = config.weights["rerank"]
    # Files the re-ranker gave no finite score (an LLM's unnamed candidates) get no term.
    ranked = sorted((j for j in range(len(head)) if math.isfinite(values[j])), key=lambda j: (-values[j], j))
    for position, j in enumerate(ranked):
        fused[head[j]] += weight / (config.rrf_k + position + 1)
    final = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))
    return [i for i, _ in final], [float(v) for _, v in final], ""


def _fuse(per_signal: dict[str, list[int]], weights: dict[str, float], k: float) -> dict[int, float]:
    fused: dict[int, float] = {}
    for signal, ranked in per_signal.items():
        weight = weights.get(signal, 0.0)
        for position, i in enumerate(ranked):
            fused[i] = fused.get(i, 0.0) + weight / (k + position + 1)
    return fused

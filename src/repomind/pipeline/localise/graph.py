"""The import and call graph of a repository's Python files, and Personalized PageRank over it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from repomind.pipeline.localise.index import RepoIndex


def module_names(path: str) -> list[str]:
    """Every dotted suffix by which ``path`` could be imported: ``src/pkg/mod.py`` → pkg.mod, mod, ..."""
    stem = path[: -len(".py")] if path.endswith(".py") else path.rsplit(".", 1)[0]
    parts = stem.split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return [".".join(parts[i:]) for i in range(len(parts)) if parts[i:]]


def _resolve_relative(path: str, name: str) -> str:
    level = len(name) - len(name.lstrip("."))
    package = path.split("/")[:-1]
    if level > 1:
        package = package[: len(package) - (level - 1)]
    rest = name[level:]
    return ".".join([*package, rest] if rest else package)


@dataclass
class ImportGraph:
    """The graph, and its row-normalised transition matrix built once so that a query only iterates."""

    graph: Any
    matrix: Any
    dangling: np.ndarray

    @classmethod
    def of(cls, graph: Any) -> ImportGraph:
        import networkx as nx

        n = graph.number_of_nodes()
        adjacency = nx.to_scipy_sparse_array(graph, nodelist=range(n), weight="weight", dtype=float)
        out = np.asarray(adjacency.sum(axis=1)).ravel()
        scale = np.divide(1.0, out, out=np.zeros_like(out), where=out != 0)
        matrix = adjacency.multiply(scale[:, None]).tocsr()
        return cls(graph, matrix, out == 0)


def build_graph(index: RepoIndex) -> ImportGraph:
    """An undirected weighted graph: import edges (weight 1) and call edges to a unique definer (0.5)."""
    import networkx as nx

    by_module = index.modules

    graph = nx.Graph()
    graph.add_nodes_from(range(len(index.paths)))
    definitions = index.definitions
    for i, (path, summary) in enumerate(zip(index.paths, index.summaries, strict=True)):
        if summary.language != "python":
            continue
        for name in summary.imports:
            target = _resolve_relative(path, name) if name.startswith(".") else name
            while target:
                found = by_module.get(target)
                if found and len(found) <= 2:
                    for j in found:
                        if j != i:
                            graph.add_edge(i, j, weight=1.0)
                    break
                target = target.rpartition(".")[0]
        for call in summary.calls:
            definers = definitions.get(call)
            if definers and len(definers) == 1 and definers[0] != i:
                j = definers[0]
                if not graph.has_edge(i, j):
                    graph.add_edge(i, j, weight=0.5)
    return ImportGraph.of(graph)


def personalized_pagerank(
    graph: ImportGraph,
    seeds: dict[int, float],
    *,
    alpha: float = 0.85,
    tol: float = 1e-6,
    max_iter: int = 100,
) -> dict[int, float]:
    """PageRank restarting at ``seeds`` (node → weight), as networkx computes it; empty without seeds."""
    n = graph.matrix.shape[0]
    seeds = {i: w for i, w in seeds.items() if w > 0 and 0 <= i < n}
    if not seeds or graph.matrix.nnz == 0:
        return {}
    restart = np.zeros(n)
    for i, w in seeds.items():
        restart[i] = w
    restart /= restart.sum()
    x = restart.copy()
    for _ in range(max_iter):
        last = x
        x = alpha * (x @ graph.matrix + last[graph.dangling].sum() * restart) + (1 - alpha) * restart
        if np.abs(x - last).sum() < n * tol:
            break
    return {i: float(v) for i, v in enumerate(x) if v > 0}

"""The import and call graph of a repository's Python files, and Personalized PageRank over it."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

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


def build_graph(index: RepoIndex) -> Any:
    """An undirected weighted graph: import edges (weight 1) and call edges to a unique definer (0.5)."""
    import networkx as nx
    import scipy.sparse  # noqa: F401  (PageRank's backend: imported here, not in the first query)

    by_module: dict[str, list[int]] = defaultdict(list)
    for i, path in enumerate(index.paths):
        for name in module_names(path):
            by_module[name].append(i)

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
    return graph


def personalized_pagerank(graph: Any, seeds: dict[int, float], *, alpha: float = 0.85) -> dict[int, float]:
    """PageRank restarting at ``seeds`` (node → weight); empty when there are no seeds."""
    import networkx as nx

    seeds = {n: w for n, w in seeds.items() if w > 0 and n in graph}
    if not seeds or graph.number_of_edges() == 0:
        return {}
    scores: dict[int, float] = nx.pagerank(
        graph, alpha=alpha, personalization=seeds, weight="weight", tol=1e-6
    )
    return scores

"""The index of a repository at one revision: summaries, BM25, vectors, definitions and the import graph."""

from __future__ import annotations

import fnmatch
import hashlib
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from repomind.pipeline.localise import gitread
from repomind.pipeline.localise.cache import BlobCache, VectorCache
from repomind.pipeline.localise.embed import Embedder
from repomind.pipeline.localise.parsing import FileSummary, language_of, parse
from repomind.pipeline.localise.tokens import path_tokens, split_identifier, tokenize

if TYPE_CHECKING:
    from repomind.pipeline.localise.graph import ImportGraph

Log = Callable[[str], None]

# How many earlier commits the history signal reads (their messages and the files they changed).
HISTORY_COMMITS = 3000

# Vendored, generated or bulky paths that no fix belongs in.
DEFAULT_IGNORE = (
    "*/_vendor/*",
    "*/vendor/*",
    "*/node_modules/*",
    "*/third_party/*",
    "*/extern/*",
    "*.min.js",
)


@dataclass
class RepoIndex:
    """Everything a query needs, in memory, for one commit."""

    repo: Path
    commit: str
    paths: list[str]
    shas: list[str]
    summaries: list[FileSummary]
    tokens: list[list[str]]
    vectors: np.ndarray | None
    timings: dict[str, float] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    _bm25: object | None = None
    _graph: ImportGraph | None = None
    _definitions: dict[str, list[int]] | None = None
    _history: tuple[object, list[list[int]]] | None = None
    _modules: dict[str, list[int]] | None = None
    _suffixes: dict[str, list[int]] | None = None

    def __post_init__(self) -> None:
        self.position = {p: i for i, p in enumerate(self.paths)}

    @property
    def bm25(self) -> object:
        if self._bm25 is None:
            import bm25s

            retriever = bm25s.BM25(k1=1.2, b=0.75)
            corpus = [path_tokens(p) * 3 + t for p, t in zip(self.paths, self.tokens, strict=True)]
            retriever.index(corpus, show_progress=False)
            self._bm25 = retriever
        return self._bm25

    @property
    def definitions(self) -> dict[str, list[int]]:
        """Definition name (and qualified name) → indexes of the files that define it."""
        if self._definitions is None:
            table: dict[str, list[int]] = defaultdict(list)
            for i, summary in enumerate(self.summaries):
                for d in summary.definitions:
                    for key in {d.name, d.qualname}:
                        if not table[key] or table[key][-1] != i:
                            table[key].append(i)
            self._definitions = dict(table)
        return self._definitions

    @property
    def modules(self) -> dict[str, list[int]]:
        """Every dotted name a file could be imported by → indexes of the files it could mean."""
        if self._modules is None:
            from repomind.pipeline.localise.graph import module_names

            table: dict[str, list[int]] = defaultdict(list)
            for i, path in enumerate(self.paths):
                for name in module_names(path):
                    table[name].append(i)
            self._modules = dict(table)
        return self._modules

    @property
    def suffixes(self) -> dict[str, list[int]]:
        """Every trailing part of every path (``c.py``, ``b/c.py``, ``a/b/c.py``) → indexes of its files."""
        if self._suffixes is None:
            table: dict[str, list[int]] = defaultdict(list)
            for i, path in enumerate(self.paths):
                parts = path.split("/")
                for k in range(len(parts)):
                    table["/".join(parts[k:])].append(i)
            self._suffixes = dict(table)
        return self._suffixes

    @property
    def history(self) -> tuple[object, list[list[int]]]:
        """BM25 over the messages of earlier commits, and the indexed files each commit changed."""
        if self._history is None:
            import bm25s

            commits = gitread.history(self.repo, self.commit, HISTORY_COMMITS)
            kept = [(message, paths) for message, paths in commits if 0 < len(paths) <= 20]
            retriever = bm25s.BM25()
            if kept:
                retriever.index([tokenize(message) for message, _ in kept], show_progress=False)
            changed = [[self.position[p] for p in paths if p in self.position] for _, paths in kept]
            self._history = (retriever if kept else None, changed)
        return self._history

    @property
    def graph(self) -> ImportGraph:
        if self._graph is None:
            from repomind.pipeline.localise.graph import build_graph

            self._graph = build_graph(self)
        return self._graph


def indexable(path: str, size: int, ignore: tuple[str, ...]) -> bool:
    if size > gitread.MAX_FILE_BYTES or language_of(path) is None:
        return False
    return not any(fnmatch.fnmatch(f"/{path}", f"*{pattern}") for pattern in ignore)


def document_tokens(text: str, summary: FileSummary) -> list[str]:
    """BM25 tokens of a file's content: definition names weighted up, then its whole text.

    Path tokens depend on where the blob sits, so they are added when the index is built, not cached.
    """
    names = " ".join(d.qualname.replace(".", " ") for d in summary.definitions)
    return tokenize(names) * 2 + tokenize(text)


def embedding_text(path: str, summary: FileSummary) -> str:
    """What the dense model sees of a file: its path, docstring and definitions (truncated by the model)."""
    words = " ".join(split_identifier(path.rsplit(".", 1)[0].replace("/", "_")))
    defs = "; ".join(
        f"{d.kind} {d.qualname}" + (f": {d.doc[:80]}" if d.doc else "")
        for d in summary.definitions
        if not d.name.startswith("_") or d.name.startswith("__init")
    )
    return f"{path} ({words}). {summary.doc[:200]} {defs}"


def build_index(
    repo: Path,
    rev: str | None,
    *,
    cache_dir: Path,
    embedder: Embedder | None,
    ignore: tuple[str, ...] = DEFAULT_IGNORE,
    vector_server: str | None = None,
    log: Log = lambda _msg: None,
) -> RepoIndex:
    """Index ``repo`` at ``rev``, parsing and embedding only blobs that no earlier index has seen.

    Vectors live in an embedded chromadb store under ``cache_dir``, or on the Chroma server at
    ``vector_server`` (``http://HOST:PORT``) that several workers share.
    """
    started = time.perf_counter()
    commit = gitread.resolve(repo, rev)
    listing = {
        p: sha for p, (sha, size) in gitread.list_files(repo, commit).items() if indexable(p, size, ignore)
    }
    cache = BlobCache(cache_dir / "blobs.sqlite")
    try:
        records = cache.get_many(set(listing.values()))
        missing = sorted(set(listing.values()) - set(records))
        path_of = {sha: p for p, sha in listing.items()}
        log(f"parsing {len(missing)} new files of {len(listing)}")
        fresh: dict[str, dict[str, object]] = {}
        for sha, data in gitread.read_blobs(repo, missing):
            text = gitread.decode(data)
            path = path_of[sha]
            summary = parse(path, data) if text is not None else None
            if text is None or summary is None:
                fresh[sha] = {"skip": "binary or undecodable"}
                continue
            fresh[sha] = {"summary": summary.to_json(), "tokens": document_tokens(text, summary)}
        cache.put_many(fresh)
        records.update(fresh)
    finally:
        cache.close()
    parsed_at = time.perf_counter()

    paths, shas, summaries, tokens, skipped = [], [], [], [], []
    for path in sorted(listing):
        record = records.get(listing[path])
        if record is None or "skip" in record:
            skipped.append(path)
            continue
        paths.append(path)
        shas.append(listing[path])
        summaries.append(FileSummary.from_json(record["summary"]))
        tokens.append(record["tokens"])
    if skipped:
        log(f"skipped {len(skipped)} binary or undecodable files")

    vectors = None
    if embedder is not None:
        store = VectorCache(cache_dir / "chroma", embedder.name, server=vector_server)
        vectors = _vectors(store, embedder, paths, summaries, log)
        embedder.embed(["warm-up"])  # load the model now: the first query should not pay for it
    index = RepoIndex(repo, commit, paths, shas, summaries, tokens, vectors, skipped=skipped)
    index.timings = {
        "parse_s": parsed_at - started,
        "embed_s": time.perf_counter() - parsed_at,
        "new_files": float(len(missing)),
    }
    bm25_started = time.perf_counter()
    _ = index.bm25
    _ = index.graph
    _ = index.history
    index.timings["bm25_graph_history_s"] = time.perf_counter() - bm25_started
    index.timings["index_s"] = time.perf_counter() - started
    return index


def _vectors(
    store: VectorCache,
    embedder: Embedder,
    paths: list[str],
    summaries: list[FileSummary],
    log: Log,
) -> np.ndarray:
    # A vector is keyed by the text embedded (the path, docstring and definitions), not by the blob: most
    # changes keep a file's definitions, so moving the index between commits embeds few files again.
    texts = [embedding_text(path, summary) for path, summary in zip(paths, summaries, strict=True)]
    keys = [f"t-{hashlib.blake2b(text.encode(), digest_size=16).hexdigest()}" for text in texts]
    known = store.get_many(list(dict.fromkeys(keys)))
    todo = list({key: i for i, key in enumerate(keys) if key not in known}.values())
    if todo:
        log(f"embedding {len(todo)} files")
        fresh: dict[str, np.ndarray] = {}
        for start in range(0, len(todo), 256):
            batch = todo[start : start + 256]
            vectors = embedder.embed([texts[i] for i in batch])
            fresh.update({keys[i]: vectors[j] for j, i in enumerate(batch)})
            log(f"embedded {min(start + 256, len(todo))}/{len(todo)} files")
        store.put_many(fresh)
        known.update(fresh)
    return np.stack([known[key] for key in keys]) if keys else np.zeros((0, 1), dtype=np.float32)

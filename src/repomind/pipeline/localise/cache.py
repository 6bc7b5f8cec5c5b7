"""Persistent caches keyed by git blob SHA: parsed summaries and tokens (SQLite), vectors (chromadb).

Blob SHAs name content, so one cache serves every revision and every repository: moving an index to
another commit parses and embeds only the blobs it has not seen.
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from repomind.pipeline.localise.gitread import LocaliseError

# Bump when parsing or tokenising changes: old entries are then ignored, never misread.
FORMAT = 3


class BlobCache:
    """sha → JSON record, compressed, in one SQLite file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"CREATE TABLE IF NOT EXISTS blobs_v{FORMAT} (sha TEXT PRIMARY KEY, data BLOB)")

    def get_many(self, shas: Iterable[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        wanted = list(shas)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT sha, data FROM blobs_v{FORMAT} WHERE sha IN ({marks})", chunk)
            for sha, data in rows:
                found[sha] = json.loads(zlib.decompress(data))
        return found

    def put_many(self, records: dict[str, dict[str, Any]]) -> None:
        rows = [(sha, zlib.compress(json.dumps(rec).encode(), 1)) for sha, rec in records.items()]
        with self._db:
            self._db.executemany(f"INSERT OR REPLACE INTO blobs_v{FORMAT} VALUES (?, ?)", rows)

    def close(self) -> None:
        self._db.close()


class VectorCache:
    """sha → vector in a chromadb collection, one collection per embedding model: embedded under
    ``path``, or on the Chroma server at ``server`` (``http://HOST:PORT``, shared by several workers).

    Vectors are computed here and handed to chromadb, so its default embedding function (which would
    download a model) is never used.
    """

    def __init__(self, path: Path, model_name: str, *, server: str | None = None) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        settings = ChromaSettings(anonymized_telemetry=False)
        if server:
            url = urlsplit(server)
            if url.scheme not in ("http", "https") or not url.hostname:
                raise LocaliseError(f"REPOMIND_CHROMA_URL={server!r} is not an http(s)://HOST:PORT URL")
            try:
                self._client: Any = chromadb.HttpClient(
                    host=url.hostname,
                    port=url.port or (443 if url.scheme == "https" else 8000),
                    ssl=url.scheme == "https",
                    settings=settings,
                )
            except ValueError as exc:  # chromadb's "Could not connect to a Chroma server"
                raise LocaliseError(f"the Chroma server at {server} does not answer: {exc}") from None
        else:
            path.mkdir(parents=True, exist_ok=True)
            self._client = chromadb.PersistentClient(path=str(path), settings=settings)
        safe = "".join(c if c.isalnum() else "-" for c in model_name).strip("-")[:50]
        self._collection = self._client.get_or_create_collection(
            name=f"files-{safe}-v{FORMAT}", embedding_function=None, metadata={"hnsw:space": "cosine"}
        )

    def get_many(self, shas: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(shas), 1000):
            got = self._collection.get(ids=shas[start : start + 1000], include=["embeddings"])
            embeddings = got["embeddings"]
            if embeddings is None:
                continue
            for sha, vector in zip(got["ids"], embeddings, strict=True):
                found[sha] = np.asarray(vector, dtype=np.float32)
        return found

    def put_many(self, vectors: dict[str, np.ndarray]) -> None:
        ids = list(vectors)
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            self._collection.upsert(ids=chunk, embeddings=[vectors[i].tolist() for i in chunk])

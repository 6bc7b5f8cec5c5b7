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

import numpy as np

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
    """sha → vector in an embedded chromadb collection, one collection per embedding model.

    Vectors are computed here and handed to chromadb, so its default embedding function (which would
    download a model) is never used.
    """

    def __init__(self, path: Path, model_name: str) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        path.mkdir(parents=True, exist_ok=True)
        self._client = chromadb.PersistentClient(
            path=str(path), settings=ChromaSettings(anonymized_telemetry=False)
        )
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

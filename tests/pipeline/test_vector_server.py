"""Localisation vectors on a real Chroma server (``REPOMIND_CHROMA_URL``), shared by indexes and workers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from repomind.pipeline.localise.gitread import LocaliseError
from repomind.pipeline.localise.index import build_index
from repomind.testing import HashingEmbedder, make_git_repo
from tests.pipeline.test_localise import FILES
from tests.requirements import missing
from tests.services import ChromaServer, ServiceUnavailable

pytestmark = pytest.mark.services


def test_vectors_are_stored_on_and_read_back_from_the_server(tmp_path: Path) -> None:
    try:
        server = ChromaServer(tmp_path / "chroma-server")
    except ServiceUnavailable as exc:
        missing("services", str(exc))
    repo = make_git_repo(tmp_path / "shop", FILES)
    with server:
        first_embedder = HashingEmbedder()
        first = build_index(
            repo, None, cache_dir=tmp_path / "worker-1", embedder=first_embedder, vector_server=server.url
        )
        assert first_embedder.calls > 0 and first.vectors is not None
        # A second worker with its own (empty) cache folder finds every vector on the server.
        second_embedder = HashingEmbedder()
        second = build_index(
            repo, None, cache_dir=tmp_path / "worker-2", embedder=second_embedder, vector_server=server.url
        )
        assert second_embedder.calls == 1  # only the warm-up call: nothing was embedded again
        assert second.vectors is not None and np.allclose(first.vectors, second.vectors)
        assert not (tmp_path / "worker-2" / "chroma").exists()  # no embedded store was made

    for url, problem in [(server.url, "does not answer"), ("db:1", "is not an http")]:
        with pytest.raises(LocaliseError, match=problem):
            build_index(repo, None, cache_dir=tmp_path / "w3", embedder=HashingEmbedder(), vector_server=url)

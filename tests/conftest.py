"""Shared fixtures. Docker tests skip without a daemon, unless REPOMIND_REQUIRE_DOCKER=1 (CI) fails them
(tests/requirements.py is the one parser of the REPOMIND_REQUIRE_* flags)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from repomind.testing import make_git_repo
from tests.requirements import missing
from tests.services import PostgresServer, ServiceUnavailable

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Sandbox containers made by this test session (and the CLIs it starts) carry this owner label, so the
# leftover check below judges only them while other processes share the Docker daemon.
SANDBOX_OWNER = os.environ.setdefault("REPOMIND_SANDBOX_OWNER", f"pytest-{os.getpid()}")


def _docker_problem() -> tuple[Any, str | None]:
    from repomind.sandbox import DockerUnavailableError
    from repomind.sandbox.client import connect
    from repomind.sandbox.images import base_image_tag, find_image

    try:
        client = connect()
    except DockerUnavailableError as exc:
        return None, str(exc)
    if find_image(client, base_image_tag()) is None:
        return (
            client,
            f"the sandbox base image {base_image_tag()} is missing: run `repomind sandbox build --offline`",
        )
    return client, None


@pytest.fixture(scope="session")
def docker_client() -> Any:
    client, problem = _docker_problem()
    if problem:
        missing("docker", f"Docker is not usable: {problem}")
    return client


@pytest.fixture(autouse=True)
def _no_leftover_containers(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every Docker test must leave no sandbox container behind."""
    if request.node.get_closest_marker("docker") is None:
        yield
        return
    client = request.getfixturevalue("docker_client")
    yield
    from repomind.sandbox.client import leftover_containers

    left = leftover_containers(client, SANDBOX_OWNER)
    for container in left:
        container.remove(force=True, v=True)
    assert not left, f"sandbox containers left behind: {[c.name for c in left]}"


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[..., Path]:
    """Create a git repository with the given files (path -> text) committed, and return its path."""
    counter = iter(range(1000))

    def make(files: dict[str, str], name: str | None = None) -> Path:
        return make_git_repo(tmp_path / (name or f"repo{next(counter)}"), files)

    return make


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server for a test module (a services test: missing binaries fail it under
    REPOMIND_REQUIRE_SERVICES=1); ``new_database`` gives each test its own database."""
    try:
        server = PostgresServer(tmp_path_factory.mktemp("postgres"))
    except ServiceUnavailable as exc:
        missing("services", f"{exc} (run scripts/provision-services.sh)")
    with server:
        yield server

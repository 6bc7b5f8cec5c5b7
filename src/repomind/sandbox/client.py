"""Connecting to the Docker daemon, with a clear error when it cannot be reached."""

from __future__ import annotations

import os
from typing import Any

from repomind.sandbox.errors import DockerUnavailableError

#: Label put on every container and image the sandbox creates, so leftovers can be found and removed.
LABEL = "org.repomind.sandbox"
#: Which process tree made a container: ``REPOMIND_SANDBOX_OWNER`` (inherited by child processes, so a
#: test session can set it once) or the process id. Cleaning up one's own leftovers never touches the
#: containers of another process sharing the daemon.
OWNER_LABEL = "org.repomind.owner"


def owner() -> str:
    return os.environ.get("REPOMIND_SANDBOX_OWNER") or f"pid-{os.getpid()}"


def labels(role: str) -> dict[str, str]:
    """The labels of a container the sandbox creates for ``role`` (run, setup, check)."""
    return {LABEL: role, OWNER_LABEL: owner()}


def connect(base_url: str | None = None, *, timeout: float = 60.0) -> Any:
    """Return a ``docker.DockerClient`` that has answered a ping.

    ``base_url`` defaults to ``DOCKER_HOST`` or the local socket, as the docker CLI does.
    """
    import docker
    import requests

    try:
        if base_url:
            client = docker.DockerClient(base_url=base_url, timeout=int(timeout))
        else:
            client = docker.from_env(timeout=int(timeout))
        client.ping()
    except (docker.errors.DockerException, requests.RequestException) as exc:
        where = base_url or "the local socket (or DOCKER_HOST)"
        raise DockerUnavailableError(
            f"cannot reach the Docker daemon at {where}: {exc}. "
            "Is Docker installed and `dockerd` running, and may this user use it?"
        ) from exc
    return client


def leftover_containers(client: Any, owned_by: str | None = None) -> list[Any]:
    """Containers that the sandbox created and that still exist (only ``owned_by``'s when given)."""
    wanted = [LABEL] if owned_by is None else [LABEL, f"{OWNER_LABEL}={owned_by}"]
    return list(client.containers.list(all=True, filters={"label": wanted}))

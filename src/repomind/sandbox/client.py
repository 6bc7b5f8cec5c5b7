"""Connecting to the Docker daemon, with a clear error when it cannot be reached."""

from __future__ import annotations

from typing import Any

from repomind.sandbox.errors import DockerUnavailableError

#: Label put on every container and image the sandbox creates, so leftovers can be found and removed.
LABEL = "org.repomind.sandbox"


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


def leftover_containers(client: Any) -> list[Any]:
    """Containers that the sandbox created and that still exist."""
    return list(client.containers.list(all=True, filters={"label": LABEL}))

"""Connecting to the Docker daemon, with a clear error when it cannot be reached."""

from __future__ import annotations

import os
from typing import Any

from repomind.sandbox.errors import DockerUnavailableError

#: Label put on every container and image the sandbox creates, so leftovers can be found and removed.
LABEL = "org.repomind.sandbox"
#: Who made a container: ``REPOMIND_SANDBOX_OWNER`` when set (a test session sets it, so that it judges
#: only its own containers while other processes use the same daemon).
OWNER_LABEL = "org.repomind.owner"


def container_labels(kind: str) -> dict[str, str]:
    """The labels of a sandbox container of ``kind`` (``run``, ``setup``, ``check``)."""
    owner = os.environ.get("REPOMIND_SANDBOX_OWNER")
    return {LABEL: kind, OWNER_LABEL: owner} if owner else {LABEL: kind}


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


def leftover_containers(client: Any, owner: str | None = None) -> list[Any]:
    """Containers that the sandbox created and that still exist (only ``owner``'s when given)."""
    labels = [LABEL, f"{OWNER_LABEL}={owner}"] if owner else [LABEL]
    return list(client.containers.list(all=True, filters={"label": labels}))


def running_for_s(container: Any) -> float:
    """Seconds since the container started (0 when Docker does not say)."""
    from datetime import UTC, datetime

    started = str(container.attrs.get("State", {}).get("StartedAt", ""))[:26].rstrip("Z")
    try:
        since = datetime.fromisoformat(started).replace(tzinfo=UTC)
    except ValueError:
        return 0.0
    return (datetime.now(UTC) - since).total_seconds()

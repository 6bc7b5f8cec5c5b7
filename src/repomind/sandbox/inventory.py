"""Which sandbox images the Docker daemon holds, and how old they are (the Health page).

:class:`ImageInventory` is the boundary; :class:`DockerImages` asks the daemon (``DOCKER_HOST`` or the
local socket), :class:`repomind.testing.sandbox.FakeImages` answers from a list. Both raise
:class:`~repomind.sandbox.errors.DockerUnavailableError` when there is no daemon to ask.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from repomind.sandbox.errors import DockerUnavailableError
from repomind.sandbox.images import BASE_REPOSITORY
from repomind.sandbox.setup_box import ENV_REPOSITORY


@dataclass(frozen=True)
class ImageInfo:
    """One image: its tag, when it was built and its size."""

    tag: str
    created: datetime
    size_bytes: int

    @property
    def base(self) -> bool:
        """A sandbox base image (``repomind-sandbox:py3.11``), not a repository's cached environment."""
        return self.tag.startswith(f"{BASE_REPOSITORY}:")

    def age_s(self, now: datetime | None = None) -> float:
        return ((now or datetime.now(UTC)) - self.created).total_seconds()


class ImageInventory(Protocol):
    """Lists the sandbox's images; raises :class:`DockerUnavailableError` when Docker cannot be reached."""

    def images(self) -> list[ImageInfo]: ...


def _created(value: str) -> datetime:
    # Docker gives RFC 3339 with nanoseconds: keep the microseconds fromisoformat understands.
    head, _, rest = value.rstrip("Z").partition(".")
    micro = ("." + rest[:6]) if rest else ""
    try:
        return datetime.fromisoformat(head + micro).replace(tzinfo=UTC)
    except ValueError:
        return datetime.fromtimestamp(0, UTC)


class DockerImages:
    """The images of the Docker daemon at ``base_url`` (default: ``DOCKER_HOST`` or the local socket)."""

    def __init__(self, base_url: str | None = None, *, timeout: float = 5.0) -> None:
        self.base_url = base_url
        self.timeout = timeout

    def images(self) -> list[ImageInfo]:
        import docker
        import requests

        from repomind.sandbox.client import connect

        client: Any = connect(self.base_url, timeout=self.timeout)
        try:
            found: list[ImageInfo] = []
            for repository in (BASE_REPOSITORY, f"{ENV_REPOSITORY}/*"):
                for image in client.images.list(name=repository):
                    created = _created(str(image.attrs.get("Created", "")))
                    size = int(image.attrs.get("Size") or 0)
                    found.extend(ImageInfo(tag, created, size) for tag in image.tags)
        except (docker.errors.DockerException, requests.RequestException) as exc:
            raise DockerUnavailableError(f"cannot list the Docker daemon's images: {exc}") from exc
        finally:
            client.close()
        return sorted(found, key=lambda i: (not i.base, i.tag))

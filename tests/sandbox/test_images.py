"""The base image: a no-op when up to date, and a clear error where the Dockerfile's registry is missing."""

from __future__ import annotations

from typing import Any

import pytest

from repomind.sandbox import ImageBuildError, ImageNotFoundError, images

pytestmark = pytest.mark.docker


def test_up_to_date_image_is_not_rebuilt(docker_client: Any) -> None:
    before = docker_client.images.get(images.base_image_tag()).id
    lines: list[str] = []
    report = images.ensure_base_image(docker_client, offline=True, log=lines.append)
    assert (report.built, report.method) == (False, "cached")
    assert docker_client.images.get(images.base_image_tag()).id == before
    assert lines == [f"{images.base_image_tag()} is up to date"]
    assert images.require_base_image(docker_client).id == before


def test_dockerfile_build_fails_clearly_or_builds_a_working_image(docker_client: Any) -> None:
    tag = "repomind-test-dockerfile:latest"
    try:
        images._build_from_dockerfile(docker_client, tag, "bookworm", {"org.repomind.sandbox": "test"}, print)
    except ImageBuildError as exc:  # no registry here: say so, and leave no image behind
        assert exc.message.startswith(f"docker build of {tag} failed:")
        assert images.find_image(docker_client, tag) is None
    else:  # a registry answered: the image must be the sandbox layout
        out = docker_client.containers.run(
            tag, ["sh", "-c", "id -u; python3 --version; git --version"], remove=True, network_mode="none"
        )
        assert out.decode().startswith("1000\nPython 3.11")
        docker_client.images.remove(tag, force=True)


def test_missing_python_version_image_is_named(docker_client: Any) -> None:
    if images.find_image(docker_client, images.base_image_tag("3.13")) is not None:
        pytest.skip("the 3.13 image exists here")
    with pytest.raises(ImageNotFoundError, match=r"repomind-sandbox:py3\.13 does not exist: run `repomind"):
        images.require_base_image(docker_client, "3.13")

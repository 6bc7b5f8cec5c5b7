"""The app image (``Dockerfile``), built offline as CI must: from the debootstrap sandbox base
(``repomind sandbox build --offline``) and wheels built on the host (``scripts/app_wheels.py``; the
dependencies' wheels are reused while the dependencies stay the same, and the image's layers are cached
but for the project's own). Started with no credentials it serves setup mode: ``/healthz`` answers from
the host, the image's own HEALTHCHECK command passes inside it, and it runs as a non-root user."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from repomind.sandbox.client import container_labels
from repomind.sandbox.images import base_image_tag

ROOT = Path(__file__).resolve().parent.parent
TAG = "repomind-app:test"
pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def image(docker_client: Any) -> Any:
    wheels = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "app_wheels.py")],
        capture_output=True,
        text=True,
        timeout=900,
        env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
        | {k: v for k, v in os.environ.items() if k.startswith("PIP_")},
    )
    assert wheels.returncode == 0, f"scripts/app_wheels.py failed:\n{wheels.stderr[-3000:]}"
    import docker

    try:
        built, _logs = docker_client.images.build(
            path=str(ROOT), tag=TAG, buildargs={"BASE": base_image_tag()}, rm=True, forcerm=True
        )
    except docker.errors.BuildError as exc:
        pytest.fail("docker build failed:\n" + "".join(str(c.get("stream", c)) for c in exc.build_log))
    return built


@pytest.fixture
def running(docker_client: Any, image: Any) -> Iterator[Any]:
    container = docker_client.containers.run(
        image.id,
        detach=True,
        ports={"8000/tcp": ("127.0.0.1", None)},
        labels=container_labels("app"),
    )
    try:
        yield container
    finally:
        container.remove(force=True, v=True)


def _healthz(container: Any, timeout: float = 90.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        container.reload()
        if container.status == "exited":
            pytest.fail(f"the app container exited: {container.logs().decode(errors='replace')[-3000:]}")
        port = (container.ports.get("8000/tcp") or [{}])[0].get("HostPort")
        if port:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                    data: dict[str, Any] = json.loads(resp.read())
                    return data
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
        if time.monotonic() > deadline:
            pytest.fail(f"/healthz never answered: {container.logs().decode(errors='replace')[-3000:]}")
        time.sleep(0.5)


def test_the_image_serves_healthz_as_a_non_root_user(image: Any, running: Any) -> None:
    config = image.attrs["Config"]
    assert config["User"] == "repomind"
    assert config["Entrypoint"] == ["repomind"] and config["Cmd"][0] == "serve"
    health = _healthz(running)
    assert health["status"] == "ok" and health["mode"] == "setup"

    code, out = running.exec_run(["id", "-u"])
    assert code == 0 and out.decode().strip() not in ("", "0")
    top = running.top(ps_args="-o pid,user,args")  # as the host sees it: the uid, not a name it lacks
    server = [p for p in top["Processes"] if "serve" in p[-1]]
    assert server and all(p[1] not in ("root", "0") for p in server)

    # the HEALTHCHECK the daemon will run, run now (its interval is 30 s)
    test = config["Healthcheck"]["Test"]
    assert test[0] == "CMD" and "/healthz" in " ".join(test)
    code, out = running.exec_run(test[1:])
    assert code == 0, out.decode(errors="replace")
    # setup mode says where to register the app, on the console only
    assert b"/setup?token=" in running.logs()

"""The ``repomind`` command line, run as a user runs it (the installed console script)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPOMIND = shutil.which("repomind", path=str(Path(sys.executable).parent)) or "repomind"


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [REPOMIND, *args], capture_output=True, text=True, env=full_env, timeout=timeout, check=False
    )


def test_help_lists_the_commands() -> None:
    res = run("--help")
    assert res.returncode == 0
    assert "sandbox" in res.stdout
    sub = run("sandbox", "--help")
    for name in ("build", "exec", "prune"):
        assert name in sub.stdout


def test_exec_without_daemon_is_a_clear_error(make_repo: Any) -> None:
    repo = make_repo({"a.py": ""})
    res = run(
        "sandbox",
        "exec",
        "--repo",
        str(repo),
        "--",
        "true",
        env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"},
    )
    assert res.returncode == 3
    assert res.stderr.startswith("error: cannot reach the Docker daemon at the local socket")
    assert "Traceback" not in res.stderr


def test_exec_on_a_missing_directory(tmp_path: Path) -> None:
    res = run("sandbox", "exec", "--repo", str(tmp_path / "nope"), "--", "true")
    assert res.returncode == 2 and "is not a directory" in res.stderr


def test_exec_with_broken_config_says_what_is_wrong(make_repo: Any) -> None:
    repo = make_repo({".github/repomind.yml": "setup_comand: make\n"})
    res = run("sandbox", "exec", "--repo", str(repo), "--", "true")
    assert res.returncode == 2
    assert "error: .github/repomind.yml is invalid: setup_comand: unknown key" in res.stderr


@pytest.mark.docker
def test_exec_prints_only_the_output_and_keeps_the_status(docker_client: Any, make_repo: Any) -> None:
    repo = make_repo({"data.txt": "42\n"})
    res = run(
        "sandbox", "exec", "--repo", str(repo), "--", "bash", "-c", "cat data.txt; echo oops >&2; exit 7"
    )
    assert (res.returncode, res.stdout, res.stderr) == (7, "42\n", "oops\n")

    missing = run("sandbox", "exec", "--repo", str(repo), "--", "no-such-tool", "--flag")
    assert missing.returncode == 3
    assert "command not found in the sandbox: no-such-tool" in missing.stderr

    slow = run("sandbox", "exec", "--repo", str(repo), "--timeout", "1", "--", "sleep", "30")
    assert slow.returncode == 124 and "timed out after 1 s" in slow.stderr


@pytest.mark.docker
def test_build_is_a_no_op_when_the_image_exists(docker_client: Any) -> None:
    res = run("sandbox", "build", "--offline")
    assert res.returncode == 0, res.stderr
    assert "up to date: repomind-sandbox:py3.11 (cached" in res.stderr


@pytest.mark.docker
def test_prune_removes_containers_left_by_a_crash(docker_client: Any) -> None:
    from repomind.sandbox.client import container_labels, leftover_containers
    from repomind.sandbox.images import base_image_tag
    from tests.conftest import SANDBOX_OWNER

    crashed = docker_client.containers.create(base_image_tag(), ["true"], labels=container_labels("run"))
    live = docker_client.containers.run(
        base_image_tag(), ["sleep", "60"], labels=container_labels("run"), detach=True, network_mode="none"
    )
    try:
        assert {c.id for c in leftover_containers(docker_client, SANDBOX_OWNER)} == {crashed.id, live.id}
        res = run("sandbox", "prune")
        assert res.returncode == 0 and "removed" in res.stderr
        # The crashed one is gone; the running one (younger than the sandbox timeout) is left alone.
        assert [c.id for c in leftover_containers(docker_client, SANDBOX_OWNER)] == [live.id]
    finally:
        live.remove(force=True)

"""``repomind serve`` runs its worker as a supervised child process: deliveries it acknowledges are run
there, a worker that dies is restarted, and stopping the server stops the worker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from repomind.testing import StandInGitHub
from repomind.testing.github.server import free_port
from tests.bot.conftest import FIXED
from tests.bot.helpers import REPO, adjust, fixture, headers, process_env, wait_for
from tests.test_cli import REPOMIND


def _children(pid: int) -> set[int]:
    """The ``repomind worker`` processes whose parent is ``pid`` (not whatever else it runs briefly)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            except FileNotFoundError:
                continue
            if b"worker" in argv:
                found.add(int(child))
    return found


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def _env(github: StandInGitHub, tmp_path: Path) -> dict[str, str]:
    (tmp_path / "script.json").write_text(json.dumps({"edits": {"calc.py": FIXED}}))
    return process_env(github, tmp_path / "data", tmp_path / "script.json")


@pytest.mark.slow
def test_serve_runs_restarts_and_stops_its_worker_process(github: StandInGitHub, tmp_path: Path) -> None:
    env = _env(github, tmp_path)
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    serve = subprocess.Popen([REPOMIND, "serve", "--port", str(port)], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()[-2000:]
            try:
                return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(up, timeout=60, what="repomind serve to answer")
        [first] = wait_for(lambda: _children(serve.pid), timeout=30, what="the worker process")

        labeled = adjust(fixture("issues.labeled"), issue=1, sender="alice", label="repomind")
        body = json.dumps(labeled).encode()
        ack = httpx.post(f"{url}/webhooks/github", content=body, headers=headers("issues", body))
        assert ack.status_code == 202
        wait_for(lambda: github.state.pulls(REPO), timeout=90, what="the worker process to open the PR")
        assert github.state.get_file(REPO, "calc.py", "repomind/issue-1") == FIXED

        os.kill(first, signal.SIGKILL)  # the worker dies: the server starts another
        [second] = wait_for(
            lambda: {p for p in _children(serve.pid) if p != first and _alive(p)},
            timeout=30,
            what="a new worker process",
        )
        assert up()
    finally:
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=60) is not None
    wait_for(lambda: not _alive(second), timeout=10, what="the worker to stop with its server")
    text = (tmp_path / "serve.log").read_text()
    assert "worker process exited; restarting" in text


@pytest.mark.slow
def test_a_worker_whose_server_was_killed_stops(github: StandInGitHub, tmp_path: Path) -> None:
    log = (tmp_path / "serve.log").open("wb")
    serve = subprocess.Popen(
        [REPOMIND, "serve", "--port", str(free_port())], env=_env(github, tmp_path), stdout=log, stderr=log
    )
    try:
        [child] = wait_for(lambda: _children(serve.pid), timeout=60, what="the worker process")
        wait_for(  # the worker is up and watching its parent
            lambda: "worker started" in (tmp_path / "serve.log").read_text(),
            timeout=60,
            what="the worker to start",
        )
    finally:
        serve.kill()  # no shutdown: the server cannot stop its worker
        serve.wait(timeout=10)
    wait_for(lambda: not _alive(child), timeout=20, what="the worker to outlive its killed server no more")
    assert "the server that started this worker is gone" in (tmp_path / "serve.log").read_text()

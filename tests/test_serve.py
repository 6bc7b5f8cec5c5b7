"""``repomind serve``: the composition root of the web process, run as a real server on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.test_cli import REPOMIND, run


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPOMIND_")}
    return {**env, "REPOMIND_DATA_DIR": str(tmp_path), **extra}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [REPOMIND, "serve", "--port", str(port)],
        env=_clean_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()[1]
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_setup_mode_without_credentials(server: str) -> None:
    health = httpx.get(f"{server}/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok" and health.json()["mode"] == "setup"
    hook = httpx.post(f"{server}/webhooks/github", content=b"{}", headers={"X-GitHub-Event": "ping"})
    assert hook.status_code == 503 and "setup mode" in hook.json()["detail"]


def test_refuses_to_start_with_credentials_but_no_secret(tmp_path: Path) -> None:
    env = _clean_env(tmp_path, REPOMIND_APP_ID="1", REPOMIND_PRIVATE_KEY="-----BEGIN RSA PRIVATE KEY-----")
    res = subprocess.run(
        [REPOMIND, "serve", "--port", str(_free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 2
    assert "REPOMIND_WEBHOOK_SECRET is not" in res.stderr
    assert "BEGIN RSA" not in res.stderr


def test_incomplete_credentials(tmp_path: Path) -> None:
    res = run(
        "serve", env={"REPOMIND_APP_ID": "1", "REPOMIND_PRIVATE_KEY": "", "REPOMIND_PRIVATE_KEY_PATH": ""}
    )
    assert res.returncode == 2 and "incomplete app credentials" in res.stderr

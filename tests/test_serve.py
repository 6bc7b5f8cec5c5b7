"""``repomind serve``: the composition root of the web process, run as a real server on loopback."""

from __future__ import annotations

import os
import re
import socket
import stat
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
    console = (tmp_path / "console.txt").open("wb")
    proc = subprocess.Popen(
        [REPOMIND, "serve", "--port", str(port)],
        env=_clean_env(tmp_path / "data"),
        stdout=console,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, (tmp_path / "console.txt").read_text()
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        console.close()


def test_setup_mode_without_credentials(server: str) -> None:
    health = httpx.get(f"{server}/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok" and health.json()["mode"] == "setup"
    hook = httpx.post(f"{server}/webhooks/github", content=b"{}", headers={"X-GitHub-Event": "ping"})
    assert hook.status_code == 503 and "setup mode" in hook.json()["detail"]
    assert httpx.get(f"{server}/metrics").status_code == 404


def test_setup_mode_prints_a_one_time_setup_url(server: str, tmp_path: Path) -> None:
    console = (tmp_path / "console.txt").read_text()
    found = re.search(r"(http://\S+/setup\?token=(\S+))", console)
    assert found, console
    url, token = found.groups()
    assert url.startswith(server) and len(token) >= 32
    assert httpx.get(f"{server}/setup").status_code == 403
    assert httpx.get(f"{server}/setup", params={"token": token + "x"}).status_code == 403
    with httpx.Client() as browser:
        opened = browser.get(url, follow_redirects=True)
        assert opened.status_code == 200 and "Register the GitHub App" in opened.text
        assert "token" not in str(opened.url)  # dropped from the address bar
    # the data dir holds the session secret: owner only
    data = tmp_path / "data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "session-secret").stat().st_mode) == 0o600


def test_refuses_to_start_with_a_whitespace_secret(tmp_path: Path) -> None:
    env = _clean_env(
        tmp_path, REPOMIND_APP_ID="1", REPOMIND_PRIVATE_KEY="unused", REPOMIND_WEBHOOK_SECRET="   "
    )
    res = subprocess.run(
        [REPOMIND, "serve", "--port", str(_free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 2 and "REPOMIND_WEBHOOK_SECRET is only whitespace" in res.stderr


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

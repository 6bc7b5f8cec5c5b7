"""GitHub's webhook payloads (tests/fixtures/github/webhooks), adjusted and signed as GitHub signs them,
and a Repomind server on loopback wired to the GitHub stand-in."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from pydantic import SecretStr

import repomind
from repomind.bot.solving.pipeline_port import Pipeline
from repomind.server.app import create_app
from repomind.settings import Settings
from repomind.testing import StandInGitHub
from repomind.testing.github.server import free_port
from repomind.webhooks.signature import sign

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "github" / "webhooks"
SECRET = "It's a Secret to Everybody"
REPO = "acme/calc"
INSTALLATION = 77
#: The operator token of the servers tests start; run pages and /metrics need it (or a sign-in).
OPERATOR_TOKEN = "operator-token-for-tests"
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


def raw_fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(raw_fixture(name))
    return data


def adjust(
    data: dict[str, Any],
    *,
    repo: str = REPO,
    installation: int | None = INSTALLATION,
    issue: int | None = None,
    sender: str | None = None,
    comment: str | None = None,
    label: str | None = None,
) -> dict[str, Any]:
    """The fixture with its repository, issue, installation (and sender / comment text) replaced."""
    data = copy.deepcopy(data)
    owner, name = repo.split("/")
    if "repository" in data:
        data["repository"].update(full_name=repo, name=name, default_branch="main")
        data["repository"]["owner"]["login"] = owner
    if installation is not None:
        data["installation"] = {"id": installation, "node_id": "MDIz"}
    if issue is not None:
        for key in ("issue", "pull_request"):
            if key in data:
                data[key]["number"] = issue
        if "number" in data:
            data["number"] = issue
    if sender is not None:
        data["sender"].update(login=sender, type="User")
        if "comment" in data:
            data["comment"]["user"].update(login=sender, type="User")
    if comment is not None:
        data["comment"]["body"] = comment
    if label is not None:
        data["label"] = {**data.get("label", {}), "name": label}
    return data


def headers(event: str, body: bytes, *, delivery: str | None = None, secret: str = SECRET) -> dict[str, str]:
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(secret, body),
        "User-Agent": "GitHub-Hookshot/044aadd",
        "Content-Type": "application/json",
    }


def settings_for(gh: StandInGitHub, data_dir: Path, **extra: Any) -> Settings:
    return Settings(
        app_id=gh.app_id,
        private_key=SecretStr(gh.private_key),
        webhook_secret=SecretStr(SECRET),
        github_api_url=gh.url,
        data_dir=data_dir,
        public_url=extra.pop("public_url", "http://repomind.test"),
        job_lease_s=extra.pop("job_lease_s", 30.0),
        operator_token=extra.pop("operator_token", SecretStr(OPERATOR_TOKEN)),
        # the bot's tests script the pipeline's one-reply attempts; the agent's choose it themselves
        strategy=extra.pop("strategy", "pipeline"),
        **extra,
    )


@dataclass
class Server:
    url: str
    server: uvicorn.Server
    thread: threading.Thread
    settings: Settings
    github_state: Any = None

    def deliver(self, event: str, payload: dict[str, Any], *, delivery: str | None = None) -> httpx.Response:
        body = json.dumps(payload).encode()
        # 30 s, not httpx's 5: the first request of a server on a loaded 2-core machine can take longer
        # (the same three tests timed out here under load, and passed alone).
        return httpx.post(
            f"{self.url}/webhooks/github",
            content=body,
            headers=headers(event, body, delivery=delivery),
            timeout=30.0,
        )

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    @property
    def ledger(self) -> Any:
        return self.server.config.app.state.runtime.ledger


def serve(
    settings: Settings,
    *,
    pipeline: Pipeline | None,
    worker: bool = True,
    port: int | None = None,
    setup_token: str | None = None,
) -> Server:
    """The app for ``settings`` under uvicorn on loopback (``port``: a free one unless given, e.g. the
    port of the public URL the settings name; ``setup_token``: the console's token in setup mode)."""
    app = create_app(settings, worker=worker, pipeline=pipeline, setup_token=setup_token)
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "repomind did not start"
        time.sleep(0.02)
    return Server(f"http://127.0.0.1:{port}", server, thread, settings)


def wait_for(predicate: Callable[[], Any], *, timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def process_env(gh: StandInGitHub, data_dir: Path, script: Path, **extra: str) -> dict[str, str]:
    """The environment of a ``repomind`` process (serve or worker) wired to ``gh``, with the scripted
    pipeline reading ``script``; this process's own ``REPOMIND_`` settings are left out."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPOMIND_")}
    return {
        **env,
        "PYTHONPATH": str(Path(repomind.__file__).resolve().parents[1]),
        "REPOMIND_DATA_DIR": str(data_dir),
        "REPOMIND_APP_ID": gh.app_id,
        "REPOMIND_PRIVATE_KEY": gh.private_key,
        "REPOMIND_WEBHOOK_SECRET": SECRET,
        "REPOMIND_GITHUB_API_URL": gh.url,
        "REPOMIND_PIPELINE": "repomind.testing.pipeline:scripted_pipeline",
        "REPOMIND_FAKE_PIPELINE": str(script),
        **extra,
    }


def bot_pull(gh: StandInGitHub, repo: str = REPO, issue: int = 1) -> int:
    """A draft PR the app opened from ``repomind/issue-<issue>`` (made from ``main``) in ``repo`` itself:
    what the bot treats as its own; its number."""
    branch = f"repomind/issue-{issue}"
    git_dir = gh.state.repos[repo].git_dir
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent"}
    subprocess.run(["git", f"--git-dir={git_dir}", "branch", branch, "main"], check=True, env=env)
    return gh.state.create_pull(repo, title=f"Fix #{issue}", head=branch, base="main", body="").number

"""A stand-in GitHub on loopback for tests: the REST endpoints the bot uses (FastAPI + uvicorn in a
thread, bodies shaped like GitHub's own examples: :mod:`repomind.testing.github.rest`) and git over
smart HTTP (dulwich: :mod:`repomind.testing.github.gitserver`) that accepts clone and push only with a
valid installation token as ``x-access-token``. State: :class:`GitHubState`."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIServer

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Request

from repomind.testing.github.gitserver import serve_git
from repomind.testing.github.rest import rest_app
from repomind.testing.github.state import GitHubState


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class StandInGitHub:
    """``with StandInGitHub(tmp_path) as gh:`` → ``gh.url`` (REST base), ``gh.state``, ``gh.private_key``."""

    def __init__(self, root: Path, *, app_id: str = "4242") -> None:
        self.app_id = app_id
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_key = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        self._public_key = key.public_key()
        self.state = GitHubState(root)
        self.jwts: list[dict[str, Any]] = []
        self.manifest_codes: dict[str, dict[str, Any]] = {}
        self.port = free_port()
        self.git_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.git_url = f"http://127.0.0.1:{self.git_port}"
        self.state.clone_base = self.git_url
        self._server: Any = None
        self._threads: list[threading.Thread] = []
        self._wsgi: WSGIServer | None = None
        self._backend_repos: dict[str, Any] = {}

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> StandInGitHub:
        import uvicorn

        config = uvicorn.Config(self.app(), host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        thread = threading.Thread(target=self._server.run, daemon=True)
        thread.start()
        self._threads.append(thread)
        self._wsgi = serve_git(self.state, self._backend_repos, self.git_port)
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the GitHub stand-in did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._wsgi is not None:
            self._wsgi.shutdown()
            self._wsgi.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        for repo in self._backend_repos.values():
            repo.close()

    def __enter__(self) -> StandInGitHub:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def add_repo(
        self, full_name: str, source: Path, *, default_branch: str = "main", installation_id: int | None = 1
    ) -> None:
        from dulwich.repo import Repo

        repo = self.state.add_repo(
            full_name, source, default_branch=default_branch, installation_id=installation_id
        )
        self._backend_repos[f"/{full_name}.git"] = Repo(str(repo.git_dir))

    def offer_manifest_code(self, code: str, conversion: dict[str, Any]) -> None:
        self.manifest_codes[code] = conversion

    # -- REST -------------------------------------------------------------------------------------
    def _verify_jwt(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return False
        try:
            claims = jwt.decode(
                header[7:],
                self._public_key,
                algorithms=["RS256"],
                leeway=0,
                options={"require": ["iat", "exp", "iss"]},
            )
        except jwt.PyJWTError:
            return False
        self.jwts.append(claims)
        return str(claims["iss"]) == self.app_id and claims["exp"] - claims["iat"] <= 600

    def app(self) -> FastAPI:
        return rest_app(self.state, verify_jwt=self._verify_jwt, manifest_codes=self.manifest_codes)

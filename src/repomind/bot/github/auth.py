"""GitHub App authentication: the app's JWT (pyjwt, RS256) and installation tokens cached until expiry."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
from githubkit import GitHub as GithubkitGitHub
from githubkit.auth.base import BaseAuthStrategy
from githubkit.exception import GitHubException, RequestFailed

from repomind.bot.github.protocol import GitHubError, InstallationToken
from repomind.redact import SECRETS, Redactor

Clock = Callable[[], float]
#: GitHub rejects app JWTs that live longer than 10 minutes or are issued in the future; issuing them 60 s
#: in the past absorbs clock drift (GitHub's documented recommendation).
JWT_BACKDATE_S = 60
JWT_LIFETIME_S = 600
#: Installation tokens live one hour; renew this long before they expire so no request carries a stale one.
TOKEN_MARGIN_S = 300


def app_jwt(app_id: str, private_key: str, *, now: float | None = None) -> str:
    """The JWT that authenticates as the app: ``iss`` app id, ``iat`` 60 s ago, ``exp`` 10 minutes later."""
    issued = int(now if now is not None else time.time()) - JWT_BACKDATE_S
    return jwt.encode(
        {"iss": str(app_id), "iat": issued, "exp": issued + JWT_LIFETIME_S}, private_key, algorithm="RS256"
    )


@dataclass
class _BearerAuth(httpx.Auth):
    make_token: Callable[[], str]

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.make_token()}"
        yield request


@dataclass
class AppJWTStrategy(BaseAuthStrategy):
    """githubkit auth that sends a fresh app JWT as a Bearer token."""

    app_id: str
    private_key: str

    def get_auth_flow(self, github: object) -> httpx.Auth:
        return _BearerAuth(lambda: app_jwt(self.app_id, self.private_key))


class InstallationTokens:
    """Mints installation tokens through githubkit and caches each until ``TOKEN_MARGIN_S`` before expiry;
    each token joins ``registry`` (the process's redaction) as it is minted."""

    def __init__(
        self,
        app_id: str,
        private_key: str,
        *,
        base_url: str,
        clock: Clock = time.time,
        client_options: dict[str, Any] | None = None,
        registry: Redactor = SECRETS,
    ) -> None:
        self._registry = registry
        self._app = GithubkitGitHub(
            AppJWTStrategy(app_id, private_key), base_url=base_url, **(client_options or {})
        )
        self._clock = clock
        self._cache: dict[int, InstallationToken] = {}
        self._lock = threading.Lock()
        self.minted = 0

    def get(self, installation_id: int) -> InstallationToken:
        with self._lock:
            cached = self._cache.get(installation_id)
            if cached is not None and cached.expires_at.timestamp() - TOKEN_MARGIN_S > self._clock():
                return cached
            token = self._mint(installation_id)
            self._cache[installation_id] = token
            return token

    def installation_for(self, repo: str) -> int | None:
        """``GET /repos/{owner}/{repo}/installation`` as the app: the installation's id, None on 404."""
        owner, _, name = repo.partition("/")
        try:
            resp = self._app.rest.apps.get_repo_installation(owner, name)
        except RequestFailed as exc:
            if exc.response.status_code == 404:
                return None
            raise GitHubError(
                f"GitHub refused the installation of {repo}: "
                f"{exc.response.status_code} {_message(exc.response)}",
                exc.response.status_code,
            ) from exc
        except GitHubException as exc:
            raise GitHubError(f"cannot reach GitHub for the installation of {repo}: {exc}") from exc
        return int(resp.json()["id"])

    def _mint(self, installation_id: int) -> InstallationToken:
        try:
            resp = self._app.rest.apps.create_installation_access_token(installation_id)
        except RequestFailed as exc:
            raise GitHubError(
                f"GitHub refused an installation token for installation {installation_id}: "
                f"{exc.response.status_code} {_message(exc.response)}",
                exc.response.status_code,
            ) from exc
        except GitHubException as exc:
            raise GitHubError(f"cannot reach GitHub for an installation token: {exc}") from exc
        data = resp.json()
        expires = datetime.strptime(data["expires_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        token = str(data["token"])
        self._registry.add(token, expires_at=expires)  # redacted everywhere from before its first use
        self.minted += 1
        return InstallationToken(token=token, expires_at=expires)


def _message(response: object) -> str:
    try:
        return str(response.json().get("message", ""))  # type: ignore[attr-defined]
    except ValueError:
        return ""

"""The GitHub App's own OAuth web flow (user-to-server tokens), as GitHub documents it:

1. the browser goes to ``{web}/login/oauth/authorize?client_id=...&redirect_uri=...&state=...``;
2. GitHub sends it back with ``code`` and ``state``; the code is exchanged at
   ``{web}/login/oauth/access_token`` (with the client secret) for a user token;
3. ``GET {api}/user`` names the person; ``GET {api}/repos/{owner}/{repo}`` with their token answers 200
   only for a repository they can read *and* the app is installed on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx

_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
TIMEOUT_S = 10.0


class OAuthError(Exception):
    """GitHub refused the code or the token, or could not be reached; the message is safe to show."""


@dataclass(frozen=True)
class OAuthApp:
    client_id: str
    client_secret: str
    web_url: str
    api_url: str

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        query = urlencode({"client_id": self.client_id, "redirect_uri": redirect_uri, "state": state})
        return f"{self.web_url.rstrip('/')}/login/oauth/authorize?{query}"

    def exchange(self, code: str, redirect_uri: str) -> str:
        """The user's token for ``code`` (single use, ten minutes)."""
        form = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "code": code,
            "redirect_uri": redirect_uri,
        }
        data = self._call(
            "POST", f"{self.web_url.rstrip('/')}/login/oauth/access_token", data=form, token=None
        )
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            error = data.get("error") if isinstance(data, dict) else None
            raise OAuthError(f"GitHub refused the sign-in code ({error or 'no token'})")
        return token

    def login(self, token: str) -> str:
        data = self._call("GET", f"{self.api_url.rstrip('/')}/user", token=token)
        login = data.get("login") if isinstance(data, dict) else None
        if not isinstance(login, str) or not login:
            raise OAuthError("GitHub did not say who signed in")
        return login

    def can_read(self, token: str, repo: str) -> bool:
        """Whether the token's user can read ``owner/name`` through this app (404/403: no)."""
        if not _REPO.fullmatch(repo):
            return False
        owner, name = repo.split("/")
        url = f"{self.api_url.rstrip('/')}/repos/{quote(owner)}/{quote(name)}"
        try:
            response = httpx.get(url, headers=self._headers(token), timeout=TIMEOUT_S)
        except httpx.HTTPError as exc:
            raise OAuthError(f"cannot reach GitHub: {type(exc).__name__}") from None
        if response.status_code in (401, 403, 404):
            return False
        if response.status_code != 200:
            raise OAuthError(f"GitHub answered {response.status_code}")
        return True

    def _call(self, method: str, url: str, *, token: str | None, data: Any = None) -> Any:
        try:
            response = httpx.request(method, url, data=data, headers=self._headers(token), timeout=TIMEOUT_S)
        except httpx.HTTPError as exc:
            raise OAuthError(f"cannot reach GitHub: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise OAuthError(f"GitHub answered {response.status_code}")
        try:
            return response.json()
        except ValueError:
            raise OAuthError("GitHub's answer is not JSON") from None

    @staticmethod
    def _headers(token: str | None) -> dict[str, str]:
        headers = {"Accept": "application/json", "X-GitHub-Api-Version": "2022-11-28"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return headers

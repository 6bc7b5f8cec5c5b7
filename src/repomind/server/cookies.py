"""Signed, expiring cookies for the web pages (sign-in, the OAuth state, the setup browser).

A cookie's value is ``base64url(JSON) "." base64url(HMAC-SHA256)`` under the session secret
(``REPOMIND_SESSION_SECRET``, or a key generated once into the data dir, 0600). Every cookie is HttpOnly
and SameSite=Lax, and Secure when the public URL is https or the request came over https.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response

from repomind.errors import ConfigError
from repomind.redact import SECRETS
from repomind.settings import Settings


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def session_key(settings: Settings) -> bytes:
    """The cookie-signing key: the configured secret, else one generated into the data dir (0600)."""
    if settings.session_secret is not None:
        value = settings.session_secret.get_secret_value()
        if len(value.strip()) < 16:
            raise ConfigError("REPOMIND_SESSION_SECRET must be at least 16 characters (not whitespace)")
        return value.encode()
    path = settings.session_secret_file
    settings.prepare_data_dir()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes().strip()
        if len(key) < 32:
            raise ConfigError(
                f"{path} is too short to sign cookies: delete it to generate a new one"
            ) from None
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        key = path.read_bytes().strip()
    SECRETS.add(key.decode(errors="replace"))  # a generated key is no setting: redact it too
    return key


@dataclass(frozen=True)
class Cookies:
    """Signs, reads and sets this server's cookies."""

    key: bytes
    https: bool  # the public URL is https: every cookie is Secure

    def sign(self, data: dict[str, Any], *, max_age_s: int) -> str:
        payload = _b64(json.dumps({**data, "exp": int(time.time()) + max_age_s}).encode())
        return f"{payload}.{self._mac(payload)}"

    def load(self, value: str | None) -> dict[str, Any] | None:
        """The cookie's data when its signature holds and it has not expired; else None."""
        if not value or value.count(".") != 1:
            return None
        payload, mac = value.split(".")
        if not hmac.compare_digest(mac.encode(), self._mac(payload).encode()):
            return None
        try:
            data = json.loads(_unb64(payload))
        except (ValueError, binascii.Error):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("exp"), int) or data["exp"] < time.time():
            return None
        return data

    def read(self, request: Request, name: str) -> dict[str, Any] | None:
        return self.load(request.cookies.get(name))

    def set(
        self, response: Response, request: Request, name: str, data: dict[str, Any], *, max_age_s: int
    ) -> None:
        response.set_cookie(
            name,
            self.sign(data, max_age_s=max_age_s),
            max_age=max_age_s,
            path="/",
            httponly=True,
            samesite="lax",
            secure=self.https or request.url.scheme == "https",
        )

    def clear(self, response: Response, request: Request, name: str) -> None:
        response.delete_cookie(
            name, path="/", httponly=True, samesite="lax", secure=self.https or request.url.scheme == "https"
        )

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self.key, payload.encode(), hashlib.sha256).digest())


def cookies_for(settings: Settings) -> Cookies:
    https = (settings.public_url or "").lower().startswith("https://")
    return Cookies(session_key(settings), https)

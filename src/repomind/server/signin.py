"""Who may see what: deny by default, sign-in through the GitHub App's OAuth, and the operator token.

Every path but the public ones (``/healthz``, the webhook, the sign-in routes) needs a viewer:
anonymous requests for HTML pages are redirected (303) to ``/login``, others (``/api/...``, ``/metrics``,
scripts sending ``Authorization``) answer 401, whether or not what they ask for exists. A viewer is
either the operator (``Authorization: Bearer $REPOMIND_OPERATOR_TOKEN``, compared in constant time) or a
person signed in through the app's OAuth, who sees a repository's runs only when GitHub says, with their
own token, that they can read it (cached per session for :data:`ACCESS_CACHE_S`).

Sessions live in this process (the browser holds a signed, random id; the user's token never leaves the
server), so a restart signs everyone out.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from repomind.log import get_logger
from repomind.server.cookies import Cookies
from repomind.server.oauth import OAuthApp, OAuthError
from repomind.server.pages import page

SESSION_COOKIE = "repomind_session"
STATE_COOKIE = "repomind_oauth"
SESSION_S = 8 * 3600  # GitHub's user-to-server tokens expire after 8 hours
STATE_S = 600
ACCESS_CACHE_S = 60.0
MAX_SESSIONS = 10_000
PUBLIC_PATHS = frozenset(
    {"/healthz", "/webhooks/github", "/login", "/login/callback", "/logout", "/static/repomind.css"}
)


@dataclass
class Viewer:
    """The operator (``login`` None) or a signed-in person."""

    login: str | None
    session_id: str | None = None

    @property
    def operator(self) -> bool:
        return self.login is None


@dataclass
class _Session:
    login: str
    token: str
    expires: float
    readable: dict[str, tuple[bool, float]] = field(default_factory=dict)


def _local_path(value: str | None) -> str:
    """``value`` when it is a path on this server, else ``/`` (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")) or "\\" in value:
        return "/"
    return value


def wants_json(request: Request) -> bool:
    path = request.url.path
    accept = request.headers.get("accept", "")
    return (
        path.startswith("/api/")
        or path in ("/metrics", "/openapi.json")
        or "authorization" in request.headers
        or ("application/json" in accept and "text/html" not in accept)
    )


class Access:
    """The web server's access control; ``install`` puts the deny-by-default guard on an app."""

    def __init__(
        self,
        cookies: Cookies,
        *,
        operator_token: str | None,
        oauth: OAuthApp | None,
        public_url: str | None,
    ) -> None:
        self.cookies = cookies
        self._operator = operator_token.encode() if operator_token else None
        self.oauth = oauth
        self.public_url = public_url
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()
        self._log: Any = get_logger("repomind.signin")

    # -- who is asking ----------------------------------------------------------------------------
    def viewer(self, request: Request) -> Viewer | None:
        header = request.headers.get("authorization", "")
        scheme, _, credential = header.partition(" ")
        if self._operator is not None and scheme.lower() == "bearer" and credential:
            if hmac.compare_digest(credential.strip().encode(), self._operator):
                return Viewer(None)
            return None
        data = self.cookies.read(request, SESSION_COOKIE)
        sid = data.get("sid") if data else None
        if not isinstance(sid, str):
            return None
        with self._lock:
            session = self._sessions.get(sid)
            if session is None or session.expires < time.time():
                self._sessions.pop(sid, None)
                return None
            return Viewer(session.login, sid)

    def can_read(self, viewer: Viewer, repo: str) -> bool:
        """Whether ``viewer`` may see ``repo``'s runs; raises :class:`OAuthError` when GitHub cannot say."""
        if viewer.operator:
            return True
        with self._lock:
            session = self._sessions.get(viewer.session_id or "")
            if session is None:
                return False
            cached = session.readable.get(repo)
            token = session.token
        if cached is not None and time.monotonic() - cached[1] < ACCESS_CACHE_S:
            return cached[0]
        if self.oauth is None:
            return False
        readable = self.oauth.can_read(token, repo)
        with self._lock:
            session.readable[repo] = (readable, time.monotonic())
        return readable

    def deny(self, request: Request) -> Response:
        if wants_json(request):
            return JSONResponse(
                {"detail": "sign in, or send Authorization: Bearer <operator token>"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="repomind"'},
            )
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)

    # -- wiring -----------------------------------------------------------------------------------
    def install(self, app: FastAPI) -> None:
        @app.middleware("http")
        async def guard(request: Request, call_next: Any) -> Response:
            if request.url.path in PUBLIC_PATHS:
                response: Response = await call_next(request)
                return response
            viewer = self.viewer(request)
            if viewer is None:
                return self.deny(request)
            request.state.viewer = viewer
            response = await call_next(request)
            response.headers.setdefault("Cache-Control", "no-store")
            return response

        app.include_router(self._router())

    def _base(self, request: Request) -> str:
        return (self.public_url or str(request.base_url)).rstrip("/")

    def _start_session(self, login: str, token: str) -> str:
        sid = secrets.token_urlsafe(32)
        now = time.time()
        with self._lock:
            for key in [k for k, s in self._sessions.items() if s.expires < now]:
                del self._sessions[key]
            while len(self._sessions) >= MAX_SESSIONS:
                del self._sessions[next(iter(self._sessions))]
            self._sessions[sid] = _Session(login, token, now + SESSION_S)
        return sid

    def _router(self) -> APIRouter:
        router = APIRouter()

        @router.get("/login")
        def login(request: Request, next: str = "/") -> Response:
            if self.oauth is None:
                return page(
                    "message",
                    503,
                    title="Sign-in is not configured",
                    lines=[
                        "This server has no OAuth client: register the app through /setup, or set "
                        "REPOMIND_OAUTH_CLIENT_ID and REPOMIND_OAUTH_CLIENT_SECRET from the app's settings."
                    ],
                    link=None,
                )
            state = secrets.token_urlsafe(32)
            redirect = self.oauth.authorize_url(f"{self._base(request)}/login/callback", state)
            response = RedirectResponse(redirect, status_code=303)
            data = {"s": state, "n": _local_path(next)}
            self.cookies.set(response, request, STATE_COOKIE, data, max_age_s=STATE_S)
            return response

        @router.get("/login/callback")
        def callback(request: Request, code: str = "", state: str = "") -> Response:
            started = self.cookies.read(request, STATE_COOKIE)
            expected = str(started.get("s", "")) if started else ""
            if not code or not expected or not hmac.compare_digest(state.encode(), expected.encode()):
                return _failed("The sign-in expired or was started in another browser.", 400)
            if self.oauth is None:
                return _failed("Sign-in is not configured on this server.", 503)
            try:
                token = self.oauth.exchange(code, f"{self._base(request)}/login/callback")
                login = self.oauth.login(token)
            except OAuthError as exc:
                self._log.warning("sign-in failed", reason=str(exc))
                return _failed(str(exc), 502)
            self._log.info("signed in", login=login)
            assert started is not None
            response = RedirectResponse(_local_path(str(started.get("n", "/"))), status_code=303)
            self.cookies.clear(response, request, STATE_COOKIE)
            sid = self._start_session(login, token)
            self.cookies.set(response, request, SESSION_COOKIE, {"sid": sid}, max_age_s=SESSION_S)
            return response

        @router.post("/logout")
        def logout(request: Request) -> Response:
            data = self.cookies.read(request, SESSION_COOKIE)
            if data and isinstance(data.get("sid"), str):
                with self._lock:
                    self._sessions.pop(data["sid"], None)
            response = RedirectResponse("/login", status_code=303)
            self.cookies.clear(response, request, SESSION_COOKIE)
            return response

        return router


def _failed(reason: str, status: int) -> Response:
    return page(
        "message", status, title="Sign-in failed", lines=[reason], link="/login", link_text="Sign in again"
    )

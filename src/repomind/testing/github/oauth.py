"""The stand-in GitHub's OAuth web flow for GitHub Apps (sign-in with user-to-server tokens), shaped
as GitHub documents it: ``GET /login/oauth/authorize`` (approves at once as ``state.signed_in_as`` and
redirects back with ``code`` and ``state``), ``POST /login/oauth/access_token`` (form or JSON; answers
200 with an ``error`` field for a bad code, as GitHub does) and ``GET /user``.
In the stand-in the web and API hosts are one server: set ``REPOMIND_GITHUB_WEB_URL`` to its URL."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response

from repomind.testing.github.state import GitHubState

_ERRORS = {
    "bad_verification_code": "The code passed is incorrect or expired.",
    "incorrect_client_credentials": "The client_id and/or client_secret passed are incorrect.",
    "redirect_uri_mismatch": "The redirect_uri MUST match the registered callback URL for this application.",
}


def add_oauth_routes(app: FastAPI, state: GitHubState) -> None:
    @app.get("/login/oauth/authorize", response_model=None)
    def authorize(request: Request, client_id: str = "", redirect_uri: str = "") -> Response:
        code = state.authorize(client_id, redirect_uri)
        if code is None:
            return HTMLResponse("<h1>Sign in to GitHub</h1>", status_code=200)
        back = {"code": code, "state": request.query_params.get("state", "")}
        sep = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(f"{redirect_uri}{sep}{urlencode(back)}", status_code=302)

    @app.post("/login/oauth/access_token", response_model=None)
    async def access_token(request: Request) -> Response:
        raw = await request.body()
        if request.headers.get("content-type", "").startswith("application/json"):
            params: dict[str, Any] = json.loads(raw or b"{}")
        else:
            params = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        try:
            token = state.exchange_code(
                str(params.get("client_id", "")),
                str(params.get("client_secret", "")),
                str(params.get("code", "")),
                params.get("redirect_uri"),
            )
            body: dict[str, Any] = {
                "access_token": token,
                "expires_in": 28800,
                "refresh_token": "ghr_" + token[4:],
                "refresh_token_expires_in": 15811200,
                "scope": "",
                "token_type": "bearer",
            }
        except ValueError as exc:
            error = str(exc)
            body = {
                "error": error,
                "error_description": _ERRORS[error],
                "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors",
            }
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse(body)
        return PlainTextResponse(urlencode(body), media_type="application/x-www-form-urlencoded")

    @app.get("/user")
    def user(request: Request) -> dict[str, Any]:
        login: str = request.state.user
        uid = abs(hash(login)) % 10**7
        return {
            "login": login,
            "id": uid,
            "node_id": "MDQ6VXNlcjE=",
            "avatar_url": f"https://github.com/images/error/{login}_happy.gif",
            "html_url": f"https://github.com/{login}",
            "type": "User",
            "site_admin": False,
            "name": None,
            "email": None,
        }

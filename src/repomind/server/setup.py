"""Setup mode: register the GitHub App from ``app.yml`` through GitHub's manifest flow (Probot's way).

Only the person at the server's console can do it: the server prints a one-time setup URL
(``/setup?token=...``, a random token per start, as Jupyter does). ``/setup`` without the token (or the
browser cookie it leaves) answers 403 and mints nothing. With it, ``/setup`` shows a form that posts the
manifest (URLs filled in from where this server is reached) to GitHub's app-creation page, with a
``state`` bound to that browser (a signed cookie) that expires after :data:`STATE_S`. GitHub sends the
browser back to ``/setup/callback?code=...&state=...``; the code is converted
(``POST /app-manifests/{code}/conversions``, no auth) and the app's id, private key, webhook secret and
OAuth client are stored in a 0600 file in the data dir, which the settings read on the next start.
Stored credentials are never replaced: once they exist the callback refuses.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import threading
import time
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import yaml
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from githubkit import GitHub
from githubkit.exception import GitHubException, RequestFailed

from repomind.log import get_logger
from repomind.redact import SECRETS
from repomind.server.cookies import Cookies
from repomind.server.pages import page
from repomind.settings import Settings

SETUP_COOKIE = "repomind_setup"
#: How long the setup browser's cookie and a minted state last.
STATE_S = 3600
MAX_STATES = 100


#: Why the app asks for each permission of ``app.yml`` (a test checks that every one is explained).
PERMISSIONS = {
    "contents": "push the fix to a repomind/* branch and read the code it clones (never the default branch)",
    "issues": "read the labelled issue, react with 👀 and keep one status comment up to date",
    "pull_requests": "open the draft pull request, and read the reviews and closing that teach it",
    "checks": 'post the "Repomind" check run with the verification, and read the PR\'s other checks',
    "metadata": "list the repositories it is installed on (GitHub requires it of every app)",
}
#: Why it subscribes to each webhook event.
EVENTS = {
    "issues": "a label (repomind by default) starts a run; edits after it are noted, not used",
    "issue_comment": "/repomind commands: fix, retry, revise, files, explain, include, exclude, cancel",
    "pull_request": "a merged or closed bot PR is the feedback that training learns from",
    "pull_request_review": "a review that asks for changes can start a revision",
    "pull_request_review_comment": "line comments are kept with the feedback",
    "check_run": "with follow_ci: true, a failing CI check on the bot's PR starts one revision",
    "check_suite": "the same, for a whole check suite that fails",
}


def guidance(base_url: str) -> dict[str, Any]:
    """What the setup page explains: the address GitHub will call, and what each permission is for."""
    data = manifest(base_url)
    base = base_url.rstrip("/")
    host = base.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    warnings = []
    if host in ("localhost", "127.0.0.1", "::1", "[::1]") or host.endswith(".local"):
        warnings.append(
            f"{base} is only reachable from this machine: GitHub cannot deliver webhooks there. Set "
            "REPOMIND_PUBLIC_URL to the address GitHub reaches (a tunnel such as smee.io for a trial)."
        )
    if not base.startswith("https://"):
        warnings.append("Use https in production: webhooks and sign-in cookies should not travel in clear.")
    permissions = data.get("default_permissions", {})
    return {
        "base": base,
        "webhook": data["hook_attributes"]["url"],
        "warnings": warnings,
        "permissions": [(name, level, PERMISSIONS.get(name, "")) for name, level in permissions.items()],
        "events": [(name, EVENTS.get(name, "")) for name in data.get("default_events", [])],
    }


def manifest(base_url: str) -> dict[str, Any]:
    """``app.yml`` with the webhook, redirect and OAuth callback URLs pointing at ``base_url``."""
    data: dict[str, Any] = yaml.safe_load(resources.files("repomind.server").joinpath("app.yml").read_text())
    base = base_url.rstrip("/")
    data["hook_attributes"] = {**data.get("hook_attributes", {}), "url": f"{base}/webhooks/github"}
    data["redirect_url"] = f"{base}/setup/callback"
    data["callback_urls"] = [f"{base}/login/callback"]
    return data


def store_credentials(path: Path, conversion: dict[str, Any]) -> None:
    """Write the app's credentials readable by the owner only (created 0600, never world-readable);
    raises :class:`FileExistsError` rather than replace stored ones."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    keep = ("id", "slug", "name", "html_url", "client_id", "client_secret", "webhook_secret", "pem")
    data = {k: conversion.get(k) for k in keep}
    SECRETS.add(*(str(data.get(k) or "") for k in ("client_secret", "webhook_secret", "pem")))
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)
    os.chmod(tmp, 0o600)
    try:
        os.link(tmp, path)  # atomic, and never over an existing file
    finally:
        tmp.unlink()


def setup_router(settings: Settings, *, token: str, cookies: Cookies) -> APIRouter:
    """The setup routes; ``token`` is the one printed on the console."""
    router = APIRouter()
    states: dict[str, tuple[str, float]] = {}  # state -> (browser, expires)
    lock = threading.Lock()
    log: Any = get_logger("repomind.setup")

    def registered() -> Response:
        return page(
            "message",
            title="Repomind is registered",
            lines=["Restart repomind serve to use it."],
            link=None,
        )

    def browser(request: Request) -> str | None:
        data = cookies.read(request, SETUP_COOKIE)
        value = data.get("b") if data else None
        return value if isinstance(value, str) else None

    def locked() -> Response:
        return page(
            "message",
            403,
            title="Setup needs the setup URL",
            lines=["Open the setup URL that repomind serve printed on its console (/setup?token=...)."],
            link=None,
        )

    @router.get("/setup")
    def setup(request: Request, org: str | None = None) -> Response:
        if settings.credentials_file.exists():
            return registered()
        given = request.query_params.get("token")
        if given is not None:
            if not hmac.compare_digest(given.encode(), token.encode()):
                return locked()
            # Leave a cookie for this browser and drop the token from the address bar.
            target = "/setup" + (f"?{urlencode({'org': org})}" if org else "")
            response = RedirectResponse(target, status_code=303)
            data = {"b": secrets.token_urlsafe(16)}
            cookies.set(response, request, SETUP_COOKIE, data, max_age_s=STATE_S)
            return response
        owner = browser(request)
        if owner is None:
            return locked()
        state = secrets.token_urlsafe(24)
        now = time.monotonic()
        with lock:
            for key in [k for k, (_, expires) in states.items() if expires < now]:
                del states[key]
            if len(states) >= MAX_STATES:
                return page("message", 429, title="Too many setup attempts", lines=["Restart."], link=None)
            states[state] = (owner, now + STATE_S)
        base = settings.public_url or str(request.base_url)
        web = settings.github_web_url.rstrip("/")
        target = f"{web}/organizations/{quote(org)}/settings/apps/new" if org else f"{web}/settings/apps/new"
        return page(
            "setup_form",
            target=target,
            state=state,
            org=org or "",
            manifest=json.dumps(manifest(base)),
            **guidance(base),
        )

    @router.get("/setup/callback")
    def callback(request: Request, code: str = "", state: str = "") -> Response:
        if settings.credentials_file.exists():
            return _failed("Repomind is already registered; stored credentials are never replaced.", 409)
        owner = browser(request)
        with lock:
            minted = states.get(state)
            if owner is None or minted is None or not hmac.compare_digest(minted[0].encode(), owner.encode()):
                minted = None
            else:
                del states[state]
        if minted is None or minted[1] < time.monotonic():
            return _failed("Unknown, expired or foreign state: open the setup URL again.", 400)
        if not code:
            return _failed("GitHub did not send a code.", 400)
        client = GitHub(base_url=settings.github_api_url, http_cache=False)
        try:
            conversion: dict[str, Any] = dict(client.rest.apps.create_from_manifest(code).json())
        except RequestFailed as exc:
            status = exc.response.status_code
            log.warning("manifest conversion refused", status=status)
            return _failed(f"GitHub refused the code ({status}); codes expire after an hour.", 502)
        except GitHubException as exc:
            return _failed(f"Cannot reach GitHub: {exc}", 502)
        try:
            store_credentials(settings.credentials_file, conversion)
        except FileExistsError:
            return _failed("Repomind is already registered; stored credentials are never replaced.", 409)
        log.info("app registered", app_id=conversion.get("id"), slug=conversion.get("slug"))
        response = page(
            "setup_done",
            slug=str(conversion.get("slug", "")),
            app_id=str(conversion.get("id")),
            path=str(settings.credentials_file),
            install=f"{conversion.get('html_url', '')}/installations/new",
        )
        cookies.clear(response, request, SETUP_COOKIE)
        return response

    return router


def _failed(reason: str, status: int) -> Response:
    return page("message", status, title="Setup failed", lines=[reason], link=None)

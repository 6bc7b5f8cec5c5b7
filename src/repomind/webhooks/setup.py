"""Setup mode: register the GitHub App from ``app.yml`` through GitHub's manifest flow (Probot's way).

``GET /setup`` shows a form that posts the manifest (URLs filled in from where this server is reached) to
GitHub's app-creation page; GitHub sends the browser back to ``/setup/callback?code=...&state=...``, the
code is converted (``POST /app-manifests/{code}/conversions``, no auth) and the app's id, private key and
webhook secret are stored in a 0600 file in the data dir, which the settings read on the next start.
"""

from __future__ import annotations

import html
import json
import os
import secrets
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from githubkit import GitHub
from githubkit.exception import GitHubException, RequestFailed

from repomind.log import get_logger
from repomind.settings import Settings


def manifest(base_url: str) -> dict[str, Any]:
    """``app.yml`` with the webhook and redirect URLs pointing at ``base_url``."""
    data: dict[str, Any] = yaml.safe_load(
        resources.files("repomind.webhooks").joinpath("app.yml").read_text()
    )
    base = base_url.rstrip("/")
    data["hook_attributes"] = {**data.get("hook_attributes", {}), "url": f"{base}/webhooks/github"}
    data["redirect_url"] = f"{base}/setup/callback"
    return data


def store_credentials(path: Path, conversion: dict[str, Any]) -> None:
    """Write the app's credentials readable by the owner only (created 0600, never world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    keep = ("id", "slug", "name", "html_url", "client_id", "client_secret", "webhook_secret", "pem")
    data = {k: conversion.get(k) for k in keep}
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<h1>{html.escape(title)}</h1>{body}",
        status_code=status,
    )


def setup_router(settings: Settings) -> APIRouter:
    router = APIRouter()
    states: set[str] = set()
    log: Any = get_logger("repomind.setup")

    @router.get("/setup", response_class=HTMLResponse)
    def setup(request: Request, org: str | None = None) -> HTMLResponse:
        if settings.credentials_file.exists():
            return _page("Repomind is registered", "<p>Restart <code>repomind serve</code> to use it.</p>")
        base = settings.public_url or str(request.base_url)
        state = secrets.token_urlsafe(16)
        states.add(state)
        web = settings.github_web_url.rstrip("/")
        target = f"{web}/organizations/{quote(org)}/settings/apps/new" if org else f"{web}/settings/apps/new"
        value = html.escape(json.dumps(manifest(base)), quote=True)
        form = (
            f'<form action="{html.escape(target)}?state={state}" method="post">'
            f'<input type="hidden" name="manifest" value="{value}">'
            "<button type=submit>Register the GitHub App</button></form>"
            "<p>GitHub asks you to confirm, then sends you back here.</p>"
        )
        return _page("Set up Repomind", form)

    @router.get("/setup/callback", response_class=HTMLResponse)
    def callback(code: str = "", state: str = "") -> HTMLResponse:
        if not code:
            return _page("Setup failed", "<p>GitHub did not send a <code>code</code>.</p>", 400)
        if state not in states:
            return _page(
                "Setup failed", "<p>Unknown or reused <code>state</code>: start again at /setup.</p>", 400
            )
        states.discard(state)
        client = GitHub(base_url=settings.github_api_url, http_cache=False)
        try:
            conversion: dict[str, Any] = dict(client.rest.apps.create_from_manifest(code).json())
        except RequestFailed as exc:
            status = exc.response.status_code
            log.warning("manifest conversion refused", status=status)
            return _page(
                "Setup failed", f"<p>GitHub refused the code ({status}); codes expire after an hour.</p>", 502
            )
        except GitHubException as exc:
            return _page("Setup failed", f"<p>Cannot reach GitHub: {html.escape(str(exc))}</p>", 502)
        store_credentials(settings.credentials_file, conversion)
        log.info("app registered", app_id=conversion.get("id"), slug=conversion.get("slug"))
        install = html.escape(f"{conversion.get('html_url', '')}/installations/new")
        return _page(
            "Repomind is registered",
            f"<p>App {html.escape(str(conversion.get('slug', '')))} (id {conversion.get('id')}) is stored in "
            f"<code>{html.escape(str(settings.credentials_file))}</code>.</p>"
            f'<p><a href="{install}">Install it on your repositories</a>, then restart '
            "<code>repomind serve</code>.</p>",
        )

    return router

"""The server's own HTML pages, from the Jinja templates in ``templates/`` (autoescaped)."""

from __future__ import annotations

from importlib import resources
from typing import Any

import jinja2
from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from repomind.templating import environment


def _env() -> jinja2.Environment:
    return environment("repomind.server", html=True)


def page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """``templates/<template>.html.j2`` as a response; pages are never cached and leak no referrer."""
    body = _env().get_template(f"{template}.html.j2").render(**context)
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return HTMLResponse(body, status_code=status, headers=headers)


#: The one stylesheet of every page (setup, sign-in, dashboard): public, it holds nothing of a run.
STYLESHEET = "/static/repomind.css"


def static_router() -> APIRouter:
    """``GET /static/repomind.css``, served in setup mode as in ready mode."""
    router = APIRouter(include_in_schema=False)
    css = resources.files("repomind.server").joinpath("static/repomind.css").read_bytes()

    @router.get(STYLESHEET)
    def styles() -> Response:
        return Response(css, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})

    return router

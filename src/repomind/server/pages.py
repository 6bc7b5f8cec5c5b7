"""The server's own HTML pages, from the Jinja templates in ``templates/`` (autoescaped)."""

from __future__ import annotations

from typing import Any

import jinja2
from fastapi.responses import HTMLResponse

from repomind.templating import environment


def _env() -> jinja2.Environment:
    return environment("repomind.server", html=True)


def page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """``templates/<template>.html.j2`` as a response; pages are never cached and leak no referrer."""
    body = _env().get_template(f"{template}.html.j2").render(**context)
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return HTMLResponse(body, status_code=status, headers=headers)

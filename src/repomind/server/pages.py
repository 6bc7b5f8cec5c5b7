"""The server's own HTML pages, from the Jinja templates in ``templates/`` (autoescaped)."""

from __future__ import annotations

import functools
from typing import Any

import jinja2
from fastapi.responses import HTMLResponse


@functools.cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("repomind.server", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """``templates/<template>.html.j2`` as a response; pages are never cached and leak no referrer."""
    body = _env().get_template(f"{template}.html.j2").render(**context)
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return HTMLResponse(body, status_code=status, headers=headers)

"""The dataset card: ``README.md`` beside a dataset's JSONL files, rendered from a template."""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("repomind.training", "templates"),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_card(manifest: dict[str, Any]) -> str:
    return _environment().get_template("card.md.j2").render(**manifest)

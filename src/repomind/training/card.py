"""The dataset card: ``README.md`` beside a dataset's JSONL files, rendered from a template."""

from __future__ import annotations

from typing import Any

import jinja2

from repomind.templating import environment


def _environment() -> jinja2.Environment:
    return environment("repomind.training", keep_trailing_newline=True)


def render_card(manifest: dict[str, Any]) -> str:
    return _environment().get_template("card.md.j2").render(**manifest)

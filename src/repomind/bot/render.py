"""Comment and PR bodies from the Markdown templates in ``templates/``; every one ends with the commands."""

from __future__ import annotations

import functools
from typing import Any

import jinja2

from repomind.bot.commands.grammar import COMMANDS, PREFIX, example
from repomind.pipeline.localise.result import GUARANTEE_NOTE
from repomind.templating import environment


def marker(job_id: int) -> str:
    """A hidden line that lets the bot find its own status comment or PR for a job after a restart."""
    return f"<!-- repomind:job:{job_id} -->"


def money(value: float | None) -> str:
    return "unknown" if value is None else f"${value:.4f}"


@functools.cache
def _env() -> jinja2.Environment:
    # Markdown, not HTML: GitHub sanitises what it renders
    env = environment("repomind.bot", keep_trailing_newline=True)
    env.globals.update(
        commands=COMMANDS, prefix=PREFIX, example=example, money=money, guarantee=GUARANTEE_NOTE
    )
    return env


def render(template: str, **context: Any) -> str:
    """Render ``templates/<template>.md.j2``."""
    return _env().get_template(f"{template}.md.j2").render(**context).strip() + "\n"


def text(template: str, **context: Any) -> str:
    """A piece of a comment (a headline, a stage line, a result) from ``templates/<template>.md.j2``."""
    return _env().get_template(f"{template}.md.j2").render(**context).strip()

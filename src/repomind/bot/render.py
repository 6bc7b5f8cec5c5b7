"""Comment and PR bodies from the Markdown templates in ``templates/``; every one ends with the commands."""

from __future__ import annotations

import functools
import html
import re
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


_MENTION = re.compile(r"@(?=[A-Za-z0-9])")
_BACKTICKS = re.compile(r"`+")


def one_line(value: object, limit: int = 200) -> str:
    """``value`` on one line (runs of whitespace made one space), cut to ``limit`` characters."""
    flat = " ".join(str(value).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def code(value: object, limit: int = 120) -> str:
    """Untrusted text as one inline code span: nothing in it renders (no HTML, no link, no @mention), and
    a backtick in it cannot close the span (the fence is longer than any run of backticks inside)."""
    flat = one_line(value, limit)
    if not flat:
        return ""
    fence = "`" * (max((len(m) for m in _BACKTICKS.findall(flat)), default=0) + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def prose(value: object, limit: int = 200) -> str:
    """Untrusted text as plain Markdown prose on one line: HTML escaped, @mentions broken (a zero-width
    space after the ``@``, so nobody is pinged), cut to ``limit`` characters."""
    return _MENTION.sub("@\u200b", html.escape(one_line(value, limit), quote=False))


def quote(value: object, limit: int = 1_500) -> str:
    """Untrusted text of several lines as a Markdown block quote, each line as :func:`prose`."""
    text = str(value)[:limit]
    lines = [prose(line, limit) for line in text.strip().splitlines()]
    return "\n".join(f"> {line}" if line else ">" for line in lines)


@functools.cache
def _env() -> jinja2.Environment:
    # Markdown, not HTML: GitHub sanitises what it renders
    env = environment("repomind.bot", keep_trailing_newline=True)
    env.globals.update(
        commands=COMMANDS, prefix=PREFIX, example=example, money=money, guarantee=GUARANTEE_NOTE
    )
    env.filters.update(code=code, prose=prose, quote=quote)
    return env


def render(template: str, **context: Any) -> str:
    """Render ``templates/<template>.md.j2``."""
    return _env().get_template(f"{template}.md.j2").render(**context).strip() + "\n"


def text(template: str, **context: Any) -> str:
    """A piece of a comment (a headline, a stage line, a result) from ``templates/<template>.md.j2``."""
    return _env().get_template(f"{template}.md.j2").render(**context).strip()

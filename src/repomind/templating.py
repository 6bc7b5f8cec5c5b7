"""One way to load a package's Jinja templates: strict (an unknown name is an error, not an empty string),
block tags trimmed, and HTML escaped only where the output is a web page.

Every text Repomind writes for people or for a model (status comments, prompts, model cards, pages) is a
template under its package's ``templates/`` folder, loaded through :func:`environment`.
"""

from __future__ import annotations

import functools

import jinja2


@functools.cache
def environment(
    package: str, *, html: bool = False, keep_trailing_newline: bool = False
) -> jinja2.Environment:
    """The (cached) environment of ``package``'s ``templates/`` folder; ``html`` turns autoescaping on."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader(package, "templates"),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=keep_trailing_newline,
    )

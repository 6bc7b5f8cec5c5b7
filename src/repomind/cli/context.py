"""The context every command receives: settings, built once by the root group, and the boundaries that
runs are composed with (:class:`repomind.compose.Boundaries`: the real ones; a test hands fakes)."""

from __future__ import annotations

import click

from repomind.compose.run import Boundaries
from repomind.settings import Settings


class Context:
    """What the root group builds once per invocation and hands to every subcommand."""

    def __init__(self, settings: Settings, boundaries: Boundaries | None = None) -> None:
        self.settings = settings
        self.boundaries = boundaries or Boundaries()


pass_ctx = click.make_pass_decorator(Context)

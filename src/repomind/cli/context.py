"""The context every command receives: settings, built once by the root group."""

from __future__ import annotations

import click

from repomind.sandbox.limits import Limits
from repomind.settings import Settings


class Context:
    """What the root group builds once per invocation and hands to every subcommand."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings


pass_ctx = click.make_pass_decorator(Context)


def sandbox_limits(settings: Settings) -> Limits:
    """The sandbox limits the settings ask for."""
    return Limits(
        memory_bytes=settings.sandbox_memory_mb * 2**20,
        cpus=settings.sandbox_cpus,
        pids=settings.sandbox_pids,
        timeout_s=settings.sandbox_timeout_s,
    )

"""The sandbox boundary as a Protocol: one Docker implementation, one fake in ``repomind.testing.sandbox``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from repomind.sandbox.limits import Limits
from repomind.sandbox.types import Command, Environment, EnvironmentSpec, ExecResult


class Sandbox(Protocol):
    """Sets up repository environments and runs untrusted commands in them."""

    def prepare(self, work_tree: Path, spec: EnvironmentSpec) -> Environment:
        """Return the repository's environment, building and caching it on first use."""
        ...

    def run(
        self,
        env: Environment,
        work_tree: Path,
        command: Command,
        *,
        network: bool = False,
        limits: Limits | None = None,
        capture_diff: bool = True,
        collect: Sequence[str] = (),
    ) -> ExecResult:
        """Copy ``work_tree`` in, run ``command``, and return its result (and the diff it made, and the
        files named in ``collect``: absolute paths in the sandbox, each read back when it exists)."""
        ...

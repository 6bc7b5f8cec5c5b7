"""Errors of the SWE-bench evaluation: bad input that a person must fix (exit status 2)."""

from __future__ import annotations

from repomind.errors import UsageError


class EvalInputError(UsageError):
    """A dataset, prediction file or instance selection that cannot be evaluated as given."""


class OfficialHarnessError(UsageError):
    """The official ``swebench`` harness cannot be run here (module or Docker missing)."""

"""Optional callbacks of a solve run: progress events for a caller to show, and a cancel poll.

The CLI passes none (every hook defaults to a no-op); the bot edits its status comment from the events
and answers ``should_cancel`` from its job's lease. ``should_cancel`` is polled at each stage boundary:
after localisation, after the environment is ready, and before each attempt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from repomind.pipeline.localise.result import Localisation
from repomind.pipeline.solve.reflect import AttemptRecord


def _ignore(_value: object) -> None:
    return None


def _never() -> bool:
    return False


@dataclass(frozen=True)
class SolveHooks:
    #: Called once with the localisation the patch stage will use (pins applied).
    on_localised: Callable[[Localisation], None] = _ignore
    #: Called after each attempt, with its category, tests and evidence.
    on_attempt: Callable[[AttemptRecord], None] = _ignore
    #: Polled at each stage boundary; True stops the run there (``stopped == "cancelled"``).
    should_cancel: Callable[[], bool] = _never

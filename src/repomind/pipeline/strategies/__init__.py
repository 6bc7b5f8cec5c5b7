"""Strategies: how a run solves the issue, chosen by name (``strategy``, resolved by
:mod:`repomind.compose.config`; default ``agent``).

A strategy takes the run's request and its parts (model, sandbox, localiser) and returns the run's
:class:`~repomind.pipeline.solve.SolveReport`. ``agent`` (:mod:`.agent`) is the tool-using loop of
:mod:`repomind.pipeline.agent`; ``pipeline`` (also ``one-shot``, :mod:`.one_shot`) is the pipeline of one
reply per attempt. A new strategy is one module in this package and one line in :data:`STRATEGIES`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from repomind.errors import ConfigError
from repomind.pipeline.strategies.agent import Agent
from repomind.pipeline.strategies.one_shot import OneShot

if TYPE_CHECKING:
    from repomind.pipeline.llm import LanguageModel
    from repomind.pipeline.localise.result import Localiser
    from repomind.pipeline.solve.events import RunEvents
    from repomind.pipeline.solve.request import SolveReport, SolveRequest
    from repomind.pipeline.toolchain.protocol import Toolchain
    from repomind.sandbox.protocol import Sandbox


class Strategy(Protocol):
    """How a run solves one issue; the keyword parameters are those of
    :func:`repomind.pipeline.solve.solve` (its docstring says what each means)."""

    @property
    def name(self) -> str: ...

    def solve(
        self,
        request: SolveRequest,
        *,
        model: LanguageModel,
        sandbox: Sandbox,
        localiser: Localiser | None = None,
        events: RunEvents | None = None,
        should_cancel: Callable[[], bool] = lambda: False,
        toolchain: Toolchain | None = None,
    ) -> SolveReport: ...


#: Every strategy, by name.
STRATEGIES: dict[str, Strategy] = {
    Agent.name: Agent(),
    OneShot.name: OneShot(),
    "one-shot": OneShot(),  # the pipeline's first name
}


def strategy_for(name: str) -> Strategy:
    """The strategy called ``name``; :class:`~repomind.errors.ConfigError` naming the known ones else."""
    found = STRATEGIES.get(name)
    if found is None:
        known = ", ".join(sorted(STRATEGIES))
        raise ConfigError(f"unknown strategy {name!r}: known strategies are {known}")
    return found


__all__ = ["STRATEGIES", "Agent", "Strategy", "strategy_for"]

"""``agent``: localise, then a tool-using loop (search, view, edit, run_tests, submit) with a reviewer
(:mod:`repomind.pipeline.agent`); each ``submit`` is verified as the pipeline verifies an attempt."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from repomind.pipeline.solve.run import run_strategy

if TYPE_CHECKING:
    from repomind.pipeline.llm import LanguageModel
    from repomind.pipeline.localise.result import Localiser
    from repomind.pipeline.solve.events import RunEvents
    from repomind.pipeline.solve.prepare import Prepared
    from repomind.pipeline.solve.request import SolveReport, SolveRequest
    from repomind.pipeline.toolchain.protocol import Toolchain
    from repomind.sandbox.protocol import Sandbox


@dataclass(frozen=True)
class Agent:
    """The agent strategy; ``reviewer`` is the reviewer's model when ``review_model`` names one (else the
    run's own model reviews)."""

    reviewer: LanguageModel | None = None
    name: str = "agent"

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
    ) -> SolveReport:
        def body(prepared: Prepared) -> SolveReport:
            from repomind.pipeline.agent.loop import run_agent

            return run_agent(prepared, reviewer_model=self.reviewer)

        return run_strategy(
            body,
            self.name,
            request,
            model=model,
            sandbox=sandbox,
            localiser=localiser,
            events=events,
            should_cancel=should_cancel,
            toolchain=toolchain,
        )

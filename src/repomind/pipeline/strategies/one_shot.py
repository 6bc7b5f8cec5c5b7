"""``one-shot``: localise, then up to N attempts of patch, test and reflect
(:func:`repomind.pipeline.solve.solve`, unchanged)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from repomind.pipeline.llm import LanguageModel
    from repomind.pipeline.localise.result import Localiser
    from repomind.pipeline.solve.events import RunEvents
    from repomind.pipeline.solve.request import SolveReport, SolveRequest
    from repomind.pipeline.toolchain.protocol import Toolchain
    from repomind.sandbox.protocol import Sandbox


class OneShot:
    """Today's pipeline, unchanged."""

    name: str = "one-shot"

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
        from repomind.pipeline.solve import solve

        return solve(
            request,
            model=model,
            sandbox=sandbox,
            localiser=localiser,
            events=events,
            should_cancel=should_cancel,
            toolchain=toolchain,
        )

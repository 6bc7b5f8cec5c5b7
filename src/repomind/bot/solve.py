"""The pipeline the worker runs by default (``REPOMIND_PIPELINE=repomind.bot.solve:make_pipeline``).

``repomind solve`` (issue 4) is being built beside this; until it is plugged in here, the default
pipeline explains on the issue that it cannot run, instead of pretending. To plug it in, return an
object with :meth:`repomind.bot.seam.Pipeline.run` that calls the solve pipeline on ``work_tree``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from repomind.bot.seam import Hints, OutcomeStatus, PipelineEvent, PipelineOutcome
from repomind.repoconfig import RepoConfig
from repomind.settings import Settings


class UnavailablePipeline:
    def run(
        self,
        work_tree: Path,
        issue_title: str,
        issue_body: str,
        config: RepoConfig,
        *,
        hints: Hints,
        on_event: Callable[[PipelineEvent], None],
        should_cancel: Callable[[], bool],
    ) -> PipelineOutcome:
        return PipelineOutcome(
            status=OutcomeStatus.FAILED,
            explanation="This Repomind server has no pipeline installed yet, so it cannot write a patch.",
        )


def make_pipeline(settings: Settings) -> UnavailablePipeline:
    return UnavailablePipeline()

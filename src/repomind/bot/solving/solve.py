"""The pipeline the worker runs by default (``REPOMIND_PIPELINE=repomind.bot.solving.solve:make_pipeline``):
``repomind solve``'s pipeline on the worker's checkout, built by :func:`repomind.compose.build_run`.

The job's :class:`~repomind.compose.RunConfig` is resolved once by the runner (the repository's
``model``, else its installation's promoted adapter, else ``REPOMIND_MODEL``; budget held to the
server's ceiling); the composition makes the model (litellm), the Docker sandbox with the settings'
limits, and the localiser with the calibration and re-ranker the bot uses. Each run's artifacts go to
``<data dir>/runs/<run id>/``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from repomind.bot.solving import pipeline_port
from repomind.bot.solving.history_build import HistoryBuilds
from repomind.compose.run import Boundaries, build_run, load_embedder
from repomind.pipeline.solve.events import Localised, RunEvent, RunEvents
from repomind.pipeline.solve.outcome import OutcomeStatus
from repomind.settings import Settings

if TYPE_CHECKING:
    from repomind.pipeline.localise.result import Localisation

NO_MODEL = (
    "No model is configured, so no patch can be written: set `REPOMIND_MODEL` on the Repomind server "
    "(a litellm model string) or `model` in `.github/repomind.yml`."
)


def issue_text(title: str, body: str) -> str:
    return f"{title.strip()}\n\n{body.strip()}".strip() + "\n"


class SolvePipeline:
    """:class:`repomind.bot.solving.pipeline_port.Pipeline` over the run's strategy
    (:mod:`repomind.pipeline.strategies`: ``agent``, the tool-using loop, or ``pipeline``)."""

    def __init__(
        self,
        settings: Settings,
        *,
        boundaries: Boundaries | None = None,
        history: HistoryBuilds | None = None,
    ) -> None:
        self.settings = settings
        self.boundaries = boundaries or Boundaries()
        self.embedder = load_embedder(settings)  # once per process; a bad setting stops the server at start
        #: Builds each repository's history calibration in the background, once its index is built.
        self.history = history or HistoryBuilds()

    def run(
        self, job: pipeline_port.PipelineJob, *, events: RunEvents, should_cancel: pipeline_port.ShouldCancel
    ) -> pipeline_port.PipelineOutcome:
        from repomind.bot.solving.outcome import outcome_of
        from repomind.pipeline.solve.artifacts import new_run_id

        if not job.config.model:
            return pipeline_port.PipelineOutcome(OutcomeStatus.FAILED, explanation=NO_MODEL)
        seen: list[Localisation] = []

        def localised(event: RunEvent) -> None:
            if isinstance(event, Localised):
                if not seen:  # the index is at the checkout's head now: the history reuses its cache
                    self.history.start(parts.localiser, job.work_tree, job.repo)
                seen.append(event.localisation)

        parts = build_run(
            self.settings,
            job.config,
            repo=job.repo,
            installation_id=job.installation_id,
            boundaries=self.boundaries,
            embedder=self.embedder,
        )
        run_id = new_run_id()
        hints = job.hints
        request = parts.request(
            str(job.work_tree),
            issue_text(job.issue_title, job.issue_body),
            self.settings.runs_dir / run_id,
            hint=hints.hint,
            feedback=hints.feedback,
            include=hints.include,
            exclude=hints.exclude,
            max_set_size=None if hints.anyway else job.config.repo.max_set_size,
            run_id=run_id,
        )
        report = parts.strategy.solve(
            request,
            model=parts.model,
            sandbox=parts.sandbox,
            localiser=parts.localiser,
            events=RunEvents(localised, events.emit),
            should_cancel=should_cancel,
        )
        return outcome_of(report, seen[-1] if seen else None)


def make_pipeline(settings: Settings) -> SolvePipeline:
    """The real pipeline, composed from the settings (nothing connects until a job runs)."""
    return SolvePipeline(settings)

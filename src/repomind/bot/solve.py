"""The pipeline the worker runs by default (``REPOMIND_PIPELINE=repomind.bot.solve:make_pipeline``):
``repomind solve``'s pipeline on the worker's checkout, composed from the settings.

The model is ``model`` in the repository's config, else ``REPOMIND_MODEL`` (through litellm, with
``REPOMIND_LLM_API_BASE``); the sandbox is the local Docker daemon with the settings' limits; the
localiser indexes into ``<data dir>/index`` and calibrates with the repository's own calibration,
``<data dir>/calibrations/OWNER__REPO.json`` (``repomind calibrate --from-github``), else with
``<data dir>/calibration.json`` (``repomind calibrate``), else with the packaged calibration where its
embedder and re-ranker match. Each run's artifacts go to ``<data dir>/runs/<run id>/``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from repomind.bot.seam import Hints, OutcomeStatus, PipelineEvent, PipelineOutcome
from repomind.repoconfig import RepoConfig
from repomind.settings import Settings

if TYPE_CHECKING:
    from repomind.pipeline.llm import LanguageModel
    from repomind.pipeline.localise.result import Localisation, Localiser
    from repomind.pipeline.solve.reflect import AttemptRecord
    from repomind.sandbox.protocol import Sandbox

ModelFactory = Callable[[str], "LanguageModel"]
LocaliserFactory = Callable[[RepoConfig, str], "Localiser | None"]

NO_MODEL = (
    "No model is configured, so no patch can be written: set `REPOMIND_MODEL` on the Repomind server "
    "(a litellm model string) or `model` in `.github/repomind.yml`."
)


def issue_text(title: str, body: str) -> str:
    return f"{title.strip()}\n\n{body.strip()}".strip() + "\n"


class SolvePipeline:
    """:class:`repomind.bot.seam.Pipeline` over :func:`repomind.pipeline.solve.solve`."""

    def __init__(
        self,
        *,
        model: str | None,
        make_model: ModelFactory,
        make_sandbox: Callable[[], Sandbox],
        make_localiser: LocaliserFactory,
        runs_dir: Path,
        redact: Sequence[str] = (),
    ) -> None:
        self.model = model
        self.make_model = make_model
        self.make_sandbox = make_sandbox
        self.make_localiser = make_localiser
        self.runs_dir = runs_dir
        self.redact = tuple(redact)

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
        repo: str = "",
    ) -> PipelineOutcome:
        from repomind.bot.outcome import attempt_of, outcome_of
        from repomind.pipeline.solve import SolveRequest, solve
        from repomind.pipeline.solve.artifacts import new_run_id
        from repomind.pipeline.solve.hooks import SolveHooks

        name = config.model or self.model
        if not name:
            return PipelineOutcome(OutcomeStatus.FAILED, explanation=NO_MODEL)
        seen: list[Localisation] = []

        def localised(loc: Localisation) -> None:
            seen.append(loc)
            on_event(PipelineEvent("localised", localisation=loc))

        def attempted(record: AttemptRecord) -> None:
            on_event(PipelineEvent("attempt", attempt=attempt_of(record)))

        def progress(line: str) -> None:
            on_event(PipelineEvent("message", message=f"{line[:1].upper()}{line[1:]}…"))

        run_id = new_run_id()
        request = SolveRequest(
            repo=str(work_tree),
            issue_text=issue_text(issue_title, issue_body),
            out_dir=self.runs_dir / run_id,
            config=config,
            hint=hints.hint,
            feedback=hints.feedback,
            include=hints.include,
            exclude=hints.exclude,
            max_set_size=None if hints.anyway else config.max_set_size,
            redact=self.redact,
            run_id=run_id,
        )
        report = solve(
            request,
            model=self.make_model(name),
            sandbox=self.make_sandbox(),
            localiser=self.make_localiser(config, repo),
            log=progress,
            hooks=SolveHooks(on_localised=localised, on_attempt=attempted, should_cancel=should_cancel),
        )
        return outcome_of(report, seen[-1] if seen else None)


def make_pipeline(settings: Settings) -> SolvePipeline:
    """The real pipeline, composed from the settings (nothing connects until a job runs)."""
    from repomind.pipeline.localise.embed import choose_embedder

    embedder = choose_embedder(settings.embedding_model)  # a bad setting stops the server at start

    def make_model(name: str) -> LanguageModel:
        from repomind.pipeline.llm import LiteLLMModel

        return LiteLLMModel(name, api_base=settings.llm_api_base)

    def make_sandbox() -> Sandbox:
        from repomind.sandbox import DockerSandbox
        from repomind.sandbox.limits import Limits

        limits = Limits(
            memory_bytes=settings.sandbox_memory_mb * 2**20,
            cpus=settings.sandbox_cpus,
            pids=settings.sandbox_pids,
            timeout_s=settings.sandbox_timeout_s,
        )
        return DockerSandbox(limits=limits, allowed_images=settings.allowed_images)

    def make_localiser(config: RepoConfig, repo: str = "") -> Localiser:
        from repomind.pipeline.localise.calibrate import Calibration
        from repomind.pipeline.localise.localiser import IndexLocaliser, builtin_calibration
        from repomind.pipeline.localise.rerank import make_reranker

        own = settings.calibration_file_for(repo) if repo else None
        path = own if own is not None and own.is_file() else settings.calibration_file
        reranker = make_reranker(
            settings.rerank, default_model=config.model or settings.model, api_base=settings.llm_api_base
        )
        return IndexLocaliser(
            settings.data_dir / "index",
            embedder=embedder,
            calibration=(
                Calibration.load(path) if path.is_file() else builtin_calibration(embedder, reranker)
            ),
            confidence=config.confidence,
            ignore=tuple(config.ignore_paths),
            reranker=reranker,
            vector_server=settings.chroma_url,
        )

    return SolvePipeline(
        model=settings.model,
        make_model=make_model,
        make_sandbox=make_sandbox,
        make_localiser=make_localiser,
        runs_dir=settings.runs_dir,
        redact=settings.secret_values(),
    )

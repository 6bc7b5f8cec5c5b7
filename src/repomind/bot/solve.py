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
LocaliserFactory = Callable[[RepoConfig, str, "int | None"], "Localiser | None"]
#: The model string of the adapter that serves an installation's runs (its own), or None.
AdapterModel = Callable[[int], "str | None"]

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
        adapter_model: AdapterModel | None = None,
    ) -> None:
        self.model = model
        self.make_model = make_model
        self.make_sandbox = make_sandbox
        self.make_localiser = make_localiser
        self.runs_dir = runs_dir
        self.redact = tuple(redact)
        self.adapter_model = adapter_model

    def model_for(self, config: RepoConfig, installation_id: int | None) -> str | None:
        """The repository's ``model``, else its installation's own promoted adapter, else the server's."""
        if config.model:
            return config.model
        if self.adapter_model is not None and installation_id is not None:
            served = self.adapter_model(installation_id)
            if served:
                return served
        return self.model

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
        installation_id: int | None = None,
    ) -> PipelineOutcome:
        from repomind.bot.outcome import attempt_of, outcome_of
        from repomind.pipeline.solve import SolveRequest, solve
        from repomind.pipeline.solve.artifacts import new_run_id
        from repomind.pipeline.solve.hooks import SolveHooks

        name = self.model_for(config, installation_id)
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
            localiser=self.make_localiser(config, repo, installation_id),
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

    def make_localiser(config: RepoConfig, repo: str = "", installation_id: int | None = None) -> Localiser:
        from repomind.pipeline.localise.calibrate import Calibration
        from repomind.pipeline.localise.localiser import IndexLocaliser, builtin_calibration
        from repomind.pipeline.localise.rerank import make_reranker

        own = settings.calibration_file_for(repo) if repo else None
        path = own if own is not None and own.is_file() else settings.calibration_file
        reranker = make_reranker(
            settings.rerank, default_model=config.model or settings.model, api_base=settings.llm_api_base
        )
        return IndexLocaliser(
            settings.index_dir_for(installation_id, repo),
            embedder=embedder,
            calibration=(
                Calibration.load(path) if path.is_file() else builtin_calibration(embedder, reranker)
            ),
            confidence=config.confidence,
            ignore=tuple(config.ignore_paths),
            reranker=reranker,
            vector_server=settings.chroma_url,
        )

    def adapter_model(installation_id: int) -> str | None:
        """``REPOMIND_ADAPTER_MODEL`` filled in with the installation's own promoted adapter."""
        from repomind.store import Ledger, make_engine
        from repomind.store.training import served_adapter

        if not settings.adapter_model:
            return None
        ledger = Ledger(make_engine(settings.database, create=False))
        try:
            adapter = served_adapter(ledger, settings.training_scope, installation_id)
        finally:
            ledger.dispose()
        if adapter is None:
            return None
        return settings.adapter_model.format(scope=adapter.scope.replace(":", "-"), version=adapter.version)

    return SolvePipeline(
        model=settings.model,
        adapter_model=adapter_model if settings.adapter_model else None,
        make_model=make_model,
        make_sandbox=make_sandbox,
        make_localiser=make_localiser,
        runs_dir=settings.runs_dir,
        redact=settings.secret_values(),
    )

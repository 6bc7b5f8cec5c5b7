"""One place builds a run: from the settings and a resolved :class:`RunConfig`, the model, the sandbox
with its limits, and the localiser with its calibration and re-ranker.

Every caller composes through here: ``repomind solve``, ``repomind eval swebench --model``, the localiser
of ``repomind localise`` / ``calibrate`` / ``eval localise``, and the bot's pipeline
(:mod:`repomind.bot.solving.solve`). The outside boundaries are made by :class:`Boundaries`: the real LLM
(litellm) and Docker sandbox by default; tests hand the fakes of :mod:`repomind.testing`.

The localiser's calibration, in order: the run's explicit choice (``--calibration FILE``, ``builtin`` or
``none``), taken as it is; else the first good enough (at least 50 pairs, a held-out check within its
sampling error: :mod:`repomind.pipeline.localise.calibration_source`) of the repository's own
(``<data dir>/calibrations/OWNER__REPO.json``, from ``repomind calibrate --from-github``, source
``github``), its history before the revision localised (stored beside its index, source ``history``), and
the shared calibration with a shift-robust quantile (``<data dir>/calibration.json`` from
``repomind calibrate``, else the packaged one where its embedder and re-ranker match this localiser's;
source ``shared``); and no set (source ``none``) when none is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from repomind.compose.config import BUILTIN, UNCALIBRATED, RunConfig
from repomind.sandbox.limits import Limits
from repomind.settings import Settings

if TYPE_CHECKING:
    from repomind.pipeline.llm import LanguageModel
    from repomind.pipeline.localise.calibrate import Calibration
    from repomind.pipeline.localise.calibration_source import HistorySource
    from repomind.pipeline.localise.embed import Embedder
    from repomind.pipeline.localise.localiser import IndexLocaliser
    from repomind.pipeline.localise.rerank import Reranker
    from repomind.pipeline.solve.request import SolveRequest
    from repomind.pipeline.strategies import Strategy
    from repomind.sandbox.protocol import Sandbox

Log = Callable[[str], None]


class ModelFactory(Protocol):
    def __call__(self, name: str, *, api_base: str | None, max_tokens: int | None) -> LanguageModel: ...


class SandboxFactory(Protocol):
    def __call__(self, limits: Limits, *, allowed_images: Sequence[str], log: Log) -> Sandbox: ...


def litellm_model(name: str, *, api_base: str | None, max_tokens: int | None) -> LanguageModel:
    from repomind.pipeline.llm import LiteLLMModel

    return LiteLLMModel(name, api_base=api_base, max_tokens=max_tokens)


def docker_sandbox(limits: Limits, *, allowed_images: Sequence[str], log: Log) -> Sandbox:
    from repomind.sandbox import DockerSandbox

    return DockerSandbox(limits=limits, log=log, allowed_images=tuple(allowed_images))


@dataclass(frozen=True)
class Boundaries:
    """How a run's outside boundaries are made: the real ones unless a test hands fakes."""

    model: ModelFactory = litellm_model
    sandbox: SandboxFactory = docker_sandbox


def limits(settings: Settings) -> Limits:
    """The sandbox limits of every command a run executes (``REPOMIND_SANDBOX_*``)."""
    return Limits(
        memory_bytes=settings.sandbox_memory_mb * 2**20,
        cpus=settings.sandbox_cpus,
        pids=settings.sandbox_pids,
        timeout_s=settings.sandbox_timeout_s,
    )


def load_embedder(settings: Settings) -> Embedder | None:
    """The dense signal's embedder (``REPOMIND_EMBEDDING_MODEL``); a bad setting is a clear error."""
    from repomind.pipeline.localise.embed import choose_embedder

    return choose_embedder(settings.embedding_model)


def calibration(
    settings: Settings,
    config: RunConfig,
    *,
    repo: str,
    embedder: Embedder | None,
    reranker: Reranker | None,
    weights: dict[str, float] | None = None,
) -> Calibration | None:
    """The localiser's calibration: the run's choice, else the repository's own (source ``github``), else
    the shared one with its shift-robust quantile (the order is in the module docstring)."""
    from repomind.pipeline.localise.calibrate import SHIFT_ROBUST, Calibration
    from repomind.pipeline.localise.localiser import builtin_calibration

    choice = config.calibration
    if choice == UNCALIBRATED:
        return None
    if choice == BUILTIN:
        return Calibration.builtin().with_meta(source="shared", quantile=SHIFT_ROBUST)
    if choice is not None:
        return Calibration.load(Path(choice))
    own = settings.calibration_file_for(repo) if repo else None
    if own is not None and own.is_file():
        return Calibration.load(own).with_meta(source="github")
    path = settings.calibration_file
    shared = Calibration.load(path) if path.is_file() else builtin_calibration(embedder, reranker, weights)
    return shared.with_meta(source="shared", quantile=SHIFT_ROBUST) if shared is not None else None


_SETTINGS_EMBEDDER: Any = object()  # build_localiser's default: load the embedder the settings name


def build_localiser(
    settings: Settings,
    config: RunConfig,
    *,
    repo: str = "",
    installation_id: int | None = None,
    embedder: Embedder | None = _SETTINGS_EMBEDDER,
    weights: dict[str, float] | None = None,
    top_k: int = 10,
    log: Log = lambda _m: None,
) -> IndexLocaliser:
    """The localiser: the index under the repository's installation, the embedder, the re-ranker and
    the calibration, with the repository's ``confidence`` and ``ignore_paths``."""
    from repomind.pipeline.localise.localiser import IndexLocaliser
    from repomind.pipeline.localise.rank import RankConfig
    from repomind.pipeline.localise.rerank import make_reranker

    if embedder is _SETTINGS_EMBEDDER:
        embedder = load_embedder(settings)
    reranker = make_reranker(config.rerank, default_model=config.model, api_base=config.api_base)
    index_dir = settings.index_dir_for(installation_id, repo)
    automatic = config.calibration is None
    return IndexLocaliser(
        index_dir,
        embedder=embedder,
        config=RankConfig(weights=weights) if weights is not None else None,
        calibration=calibration(
            settings, config, repo=repo, embedder=embedder, reranker=reranker, weights=weights
        ),
        confidence=config.repo.confidence,
        ignore=tuple(config.repo.ignore_paths),
        top_k=top_k,
        reranker=reranker,
        vector_server=settings.chroma_url,
        history=history_source(index_dir, embedder, reranker, weights) if automatic and repo else None,
        gated=automatic,
        log=log,
    )


def history_source(
    index_dir: Path, embedder: Embedder | None, reranker: Reranker | None, weights: dict[str, float] | None
) -> HistorySource:
    """The repository's history calibration (stored beside its index) before a revision; None until it is
    built, and an error when its scores are not comparable with this localiser's."""
    from repomind.pipeline.localise.calibration_source import commit_time
    from repomind.pipeline.localise.gitread import LocaliseError
    from repomind.pipeline.localise.history_calibration import ScoredHistory, history_file
    from repomind.pipeline.localise.localiser import mismatch

    def load(repo: Path, commit: str) -> Calibration | None:
        path = history_file(index_dir)
        if not path.is_file():
            return None
        calibration = ScoredHistory.load(path).calibration(before=commit_time(repo, commit))
        problem = mismatch(calibration, embedder, reranker, weights)
        if problem:
            raise LocaliseError(problem)
        return calibration

    return load


@dataclass
class RunParts:
    """What a ``solve`` run is made of; :meth:`request` asks it one issue, which ``strategy.solve`` runs."""

    config: RunConfig
    model: LanguageModel
    sandbox: Sandbox
    localiser: IndexLocaliser
    limits: Limits
    #: How the run solves the issue (``config.strategy``, :mod:`repomind.pipeline.strategies`).
    strategy: Strategy
    redact: tuple[str, ...] = field(default_factory=tuple)

    def request(self, repo: str, issue_text: str, out_dir: Path, **extra: Any) -> SolveRequest:
        """The run's request. The resolved repository config goes with it; where it was not known before
        the run (a clone URL), the run reads ``.github/repomind.yml`` itself and only the flags go."""
        from repomind.pipeline.solve import SolveRequest

        config, flags = self.config, self.config.flags
        if not config.repo_known:
            extra = dict(
                max_attempts=flags.max_attempts,
                budget_tokens=flags.budget_tokens,
                budget_usd=flags.budget_usd,
                max_steps=flags.max_steps,
                **extra,
            )
        return SolveRequest(
            repo=repo,
            issue_text=issue_text,
            out_dir=out_dir,
            config=config.repo if config.repo_known else None,
            redact=self.redact,
            **extra,
        )


def build_run(
    settings: Settings,
    config: RunConfig,
    *,
    repo: str = "",
    installation_id: int | None = None,
    boundaries: Boundaries | None = None,
    embedder: Embedder | None = _SETTINGS_EMBEDDER,
    sandbox: Sandbox | None = None,
    log: Log = lambda _m: None,
) -> RunParts:
    """Model, sandbox, localiser, limits and strategy for a run with ``config`` (whose ``model`` must be
    set, and whose ``strategy`` must be known: both are checked before anything is made).

    ``repo`` (``OWNER/NAME``) and ``installation_id`` place the index and find the repository's own
    calibration; ``sandbox`` reuses one already made (``eval swebench`` grades in it too)."""
    from repomind.errors import ConfigError
    from repomind.pipeline.strategies import Agent, strategy_for

    if not config.model:
        raise ConfigError("no model: pass --model, set `model` in .github/repomind.yml or REPOMIND_MODEL")
    strategy = strategy_for(config.strategy)
    made = boundaries or Boundaries()
    if isinstance(strategy, Agent) and config.repo.review_model:
        reviewer = made.model(config.repo.review_model, api_base=config.api_base, max_tokens=None)
        strategy = Agent(reviewer=reviewer)
    box_limits = limits(settings)
    return RunParts(
        config=config,
        model=made.model(config.model, api_base=config.api_base, max_tokens=config.max_tokens),
        sandbox=sandbox or made.sandbox(box_limits, allowed_images=settings.allowed_images, log=log),
        localiser=build_localiser(
            settings, config, repo=repo, installation_id=installation_id, embedder=embedder, log=log
        ),
        limits=box_limits,
        strategy=strategy,
        redact=tuple(settings.secret_values()),
    )

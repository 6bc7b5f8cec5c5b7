"""The one precedence: command-line flag > repository config > server settings > default.

A run's configuration is resolved here, once, into a frozen :class:`RunConfig`; nothing downstream
chooses between the sources again. The sources are the flags of a command (:class:`Overrides`), the
repository's ``.github/repomind.yml`` (:class:`repomind.repoconfig.RepoConfig`, read from the default
branch by the bot and from the starting revision by ``repomind solve``) and the server's settings
(:class:`ServerDefaults`, taken from :class:`repomind.settings.Settings` at the edge).

| value | flag | repository config | server settings | default |
| --- | --- | --- | --- | --- |
| model | ``--model`` | ``model`` | promoted adapter (1), ``REPOMIND_MODEL`` | none: the run stops |
| LLM server | ``--api-base`` | (never) | ``REPOMIND_LLM_API_BASE`` | litellm's |
| re-ranker | ``--rerank`` | (never) | ``REPOMIND_RERANK`` | none |
| trigger label | (none) | ``label`` | ``REPOMIND_LABEL`` | ``repomind`` |
| budget | ``--budget-usd`` and ``-tokens`` | ``budget_usd``, ``budget_tokens`` (2) | ceiling (2) | no limit |
| attempts | ``--max-attempts`` | ``max_attempts`` | (none) | 3 |
| Python | ``--python`` | ``python`` | (none) | from the repository's files |
| confidence | ``--confidence`` | ``confidence`` | (none) | 0.9 |
| calibration | ``--calibration`` | (never) | own, history, ``calibration.json`` (3) | packaged, if it fits |
| strategy | ``--strategy`` | ``strategy`` | ``REPOMIND_STRATEGY`` | ``agent`` (4) |
| agent steps | ``--max-steps`` | ``max_steps`` (1..200) | (none) | 40 |
| agent prompt limit | (none) | ``max_prompt_tokens`` (>= 4000) | (none) | 32000 |
| agent reviewer | (none) | ``review_steps``, ``review_model`` (5) | (none) | edits, the run's model |
| tool protocol | (none) | ``tool_protocol`` (auto, native, text) | (none) | auto |
| formatter | (none) | ``format_command`` | (none) | none |
| DCO sign-off | (none) | ``signoff`` | (none) | false |

(1) ``REPOMIND_ADAPTER_MODEL`` filled in with the installation's promoted adapter (:func:`served_model`).
(2) ``REPOMIND_MAX_BUDGET_USD`` / ``REPOMIND_MAX_BUDGET_TOKENS`` are a ceiling on the repository's values
and the budget when it sets none; a flag is the operator's own choice and is not held to it.
(3) In the data dir: ``calibrations/OWNER__REPO.json`` (``calibrate --from-github``), then the
repository's history beside its index, then ``calibration.json`` (``calibrate``) with a shift-robust
quantile; the first with at least 50 pairs whose held-out check holds, else no set; see
:mod:`repomind.compose.run`. A repository never names a re-ranker or a calibration: both are files on the
server.
(4) :mod:`repomind.pipeline.strategies`; an unknown name stops the run in
:func:`repomind.compose.run.build_run`, before any model call.
(5) ``review_steps``: true (every action), false (none) or edits (``edit`` and ``submit``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from repomind import repoconfig
from repomind.errors import ConfigError
from repomind.repoconfig import RepoConfig
from repomind.settings import Settings

if TYPE_CHECKING:
    from repomind.store import Ledger

#: ``RunConfig.strategy`` where no flag, repository config or setting names one.
DEFAULT_STRATEGY = "agent"
#: ``RunConfig.calibration`` when the run is to have none (``repomind localise`` without ``--calibration``).
UNCALIBRATED = "none"
#: ``RunConfig.calibration`` for the packaged calibration (SWE-bench Lite dev, packaged embedder).
BUILTIN = "builtin"


@dataclass(frozen=True)
class Overrides:
    """A command's flags; None where the flag was not given."""

    model: str | None = None
    api_base: str | None = None
    rerank: str | None = None
    budget_usd: float | None = None
    budget_tokens: int | None = None
    max_attempts: int | None = None
    python: str | None = None
    confidence: float | None = None
    #: A calibration file, ``builtin``, or ``none``; None: the server's (see the table above).
    calibration: str | None = None
    #: The longest model reply, in tokens (the CLI's ``--max-tokens``).
    max_tokens: int | None = None
    #: How the run solves the issue (``--strategy``).
    strategy: str | None = None
    #: The agent's step limit (``--max-steps``).
    max_steps: int | None = None


@dataclass(frozen=True)
class ServerDefaults:
    """What the server's settings contribute to a run (taken from :class:`Settings` once, at the edge)."""

    model: str | None = None
    api_base: str | None = None
    rerank: str | None = None
    strategy: str | None = None
    label: str = "repomind"
    max_budget_usd: float | None = None
    max_budget_tokens: int | None = None
    #: ``REPOMIND_ADAPTER_MODEL`` (with ``{scope}`` and ``{version}``) and the training scope.
    adapter_model: str | None = None
    training_scope: Literal["installation", "shared"] = "installation"

    @classmethod
    def from_settings(cls, settings: Settings) -> ServerDefaults:
        return cls(
            model=settings.model,
            api_base=settings.llm_api_base,
            rerank=settings.rerank,
            strategy=settings.strategy,
            label=settings.label,
            max_budget_usd=settings.max_budget_usd,
            max_budget_tokens=settings.max_budget_tokens,
            adapter_model=settings.adapter_model,
            training_scope=settings.training_scope,
        )


@dataclass(frozen=True)
class RunConfig:
    """One run's configuration, resolved. ``repo`` is the repository's config with the resolved values
    written in (label, budget, attempts, Python, confidence, max_steps), which is what the pipeline
    reads (with the agent's ``max_prompt_tokens``, ``review_steps``, ``review_model``, ``tool_protocol``
    and the repository habits ``format_command`` and ``signoff``)."""

    repo: RepoConfig = field(default_factory=RepoConfig)
    model: str | None = None
    api_base: str | None = None
    rerank: str | None = None
    calibration: str | None = None
    max_tokens: int | None = None
    #: How the run solves the issue (:mod:`repomind.pipeline.strategies`).
    strategy: str = DEFAULT_STRATEGY
    #: A sentence for each repository value the server's ceiling lowered (shown on the status comment).
    notes: tuple[str, ...] = ()
    #: False when the repository's config could not be read before the run (a clone URL): the run reads
    #: it at its starting revision, and only ``flags`` go with the request.
    repo_known: bool = True
    flags: Overrides = field(default_factory=Overrides)

    @property
    def label(self) -> str:
        return self.repo.label


def resolve(
    server: ServerDefaults | Settings,
    repo: RepoConfig | None = None,
    flags: Overrides | None = None,
    *,
    adapter: str | None = None,
) -> RunConfig:
    """Apply the precedence once. ``adapter`` is the installation's promoted adapter (:func:`served_model`),
    which comes after the repository's ``model`` and before the server's."""
    defaults = server if isinstance(server, ServerDefaults) else ServerDefaults.from_settings(server)
    flags = flags or Overrides()
    known = repo is not None
    repo = repo or RepoConfig()
    given = repo.model_fields_set
    values: dict[str, Any] = repo.model_dump(exclude_unset=True)
    values["label"] = repo.label if "label" in given else defaults.label
    for name in ("max_attempts", "python", "confidence", "max_steps"):
        flag = getattr(flags, name)
        if flag is not None:
            values[name] = flag
    budget, notes = _budget(repo, flags, defaults)
    values.update(budget)
    try:
        resolved = RepoConfig.model_validate(values)
    except ValidationError as exc:
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid setting: {where}") from None
    return RunConfig(
        repo=resolved,
        model=flags.model or repo.model or adapter or defaults.model,
        api_base=flags.api_base or defaults.api_base,
        rerank=flags.rerank or defaults.rerank,
        calibration=flags.calibration,
        max_tokens=flags.max_tokens,
        strategy=flags.strategy or repo.strategy or defaults.strategy or DEFAULT_STRATEGY,
        notes=tuple(notes),
        repo_known=known,
        flags=flags,
    )


#: Each budget: its key, the server's ceiling, how a value is written, and what the ceiling allows.
_BUDGETS: tuple[tuple[str, str, Callable[[float], str], str], ...] = (
    ("budget_usd", "max_budget_usd", lambda v: f"${v:g}", "spend at most {}"),
    ("budget_tokens", "max_budget_tokens", lambda v: f"{v:,}", "use at most {} tokens"),
)


def _budget(
    repo: RepoConfig, flags: Overrides, defaults: ServerDefaults
) -> tuple[dict[str, float | int | None], list[str]]:
    """Each budget: the flag, else the repository's held to the server's ceiling, else the ceiling."""
    notes: list[str] = []
    out: dict[str, float | int | None] = {}
    for key, ceiling_key, show, allows in _BUDGETS:
        flag, asked, ceiling = getattr(flags, key), getattr(repo, key), getattr(defaults, ceiling_key)
        if flag is not None:
            out[key] = flag
        elif ceiling is not None and (asked is None or asked > ceiling):
            out[key] = ceiling
            notes.append(
                f"Budget: `{key}` ({'no limit' if asked is None else show(asked)}) is above this server's "
                f"ceiling; this run may {allows.format(show(ceiling))}."
            )
    return out, notes


def served_model(server: ServerDefaults, ledger: Ledger, installation_id: int | None) -> str | None:
    """``REPOMIND_ADAPTER_MODEL`` filled in with the installation's own promoted adapter, or None."""
    if not server.adapter_model or installation_id is None:
        return None
    from repomind.store.training import served_adapter

    adapter = served_adapter(ledger, server.training_scope, installation_id)
    if adapter is None:
        return None
    return server.adapter_model.format(scope=adapter.scope.replace(":", "-"), version=adapter.version)


def repo_config_at(repo: str, rev: str | None) -> RepoConfig | None:
    """``.github/repomind.yml`` of a local repository at ``rev`` (a regular file only, read through git as
    the run will see it); defaults when it has none; None when it cannot be known before the run clones
    (a URL, or not a repository: the run then reads the file itself and reports what is wrong)."""
    from repomind.pipeline.localise import gitread
    from repomind.pipeline.solve.workspace import is_url

    if is_url(repo) or not Path(repo).expanduser().is_dir():
        return None
    path = Path(repo).expanduser()
    try:
        commit = gitread.resolve(path, rev)
        found = gitread.list_files(path, commit).get(repoconfig.CONFIG_PATH)
        if found is None:
            return RepoConfig()
        sha, size = found
        if size > repoconfig.MAX_CONFIG_BYTES:
            raise ConfigError(f"{repoconfig.CONFIG_PATH} is larger than {repoconfig.MAX_CONFIG_BYTES} bytes")
        data = dict(gitread.read_blobs(path, [sha])).get(sha, b"")
    except gitread.LocaliseError:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read {repoconfig.CONFIG_PATH}: {exc}") from exc
    return repoconfig.parse(text)


def resolve_local(
    server: ServerDefaults | Settings, repo: str, rev: str | None, flags: Overrides | None = None
) -> RunConfig:
    """:func:`resolve` for a run on a local repository (or clone URL) at ``rev``: the CLI's ``solve`` and
    ``eval swebench --model`` read the repository's config as :func:`repo_config_at` finds it."""
    return resolve(server, repo_config_at(repo, rev), flags)

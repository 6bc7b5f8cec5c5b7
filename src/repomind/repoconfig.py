"""Per-repository configuration, ``.github/repomind.yml``: all keys optional, unknown keys are errors.

The one parser of the file, wherever it is read: from a checked-out work tree (:func:`load`, through
:mod:`repomind.sandbox.repofs`, never following a symlink) or from the default branch through the GitHub
API (:func:`read_default_branch`, the bot). How its values combine with flags and the server's settings
is :mod:`repomind.compose.config`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from repomind.errors import ConfigError

CONFIG_PATH = ".github/repomind.yml"
MAX_CONFIG_BYTES = 256 * 1024
_PYTHON = re.compile(r"^3\.\d{1,2}$")
_LANGUAGE = re.compile(r"^[a-z][a-z0-9_+-]{0,31}$")
_STRATEGY = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


class FileSource(Protocol):
    """What reads one file of a repository at a ref (:class:`repomind.bot.github.protocol.GitHub` does)."""

    def get_file(self, repo: str, path: str, ref: str) -> str | None: ...


def _name(value: object, pattern: re.Pattern[str], problem: str) -> object:
    """A name setting, trimmed and lower-cased; ``problem`` when it does not match ``pattern``."""
    if isinstance(value, str):
        value = value.strip().lower()
    if value is not None and not (isinstance(value, str) and pattern.match(value)):
        raise ValueError(problem)
    return value


class RepoConfig(BaseModel):
    """What a repository may tell Repomind about itself."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str = "repomind"
    #: The repository's language, naming its toolchain (:mod:`repomind.pipeline.toolchain`); detected
    #: from its files when not given.
    language: str | None = None
    test_command: str | None = None
    setup_command: str | None = None
    #: None: chosen from the repository's declared metadata (``requires-python``, classifiers).
    python: str | None = None
    #: Build on the image variant with a C compiler; None: when the repository declares extensions.
    compiler: bool | None = None
    image: str | None = None
    max_attempts: int = Field(default=3, ge=1, le=10)
    budget_usd: float | None = Field(default=None, gt=0)
    budget_tokens: int | None = Field(default=None, gt=0)
    model: str | None = None
    ignore_paths: list[str] = Field(default_factory=list)
    #: Globs of paths a patch may change only when listed here; replaces the default list when given
    #: (:data:`repomind.pipeline.edits.guard.DEFAULT_PROTECTED`: CI, build and dependency files).
    protected_paths: list[str] | None = None
    confidence: float = Field(default=0.9, gt=0, lt=1)
    #: A calibrated set wider than this asks for a hint instead of claiming a confidence. 10 is the ranking's
    #: head (:data:`repomind.pipeline.localise.calibrate.HEAD`): a set that must reach below it is judged by
    #: rank alone, and on the dev set sets within it kept their promise (README, "Which calibration").
    max_set_size: int = Field(default=10, ge=1)
    instructions: str | None = None
    #: How a run solves the issue (:mod:`repomind.pipeline.strategies`); None: the server's, else ``agent``.
    strategy: str | None = None
    #: The agent: at most this many actions (search, view, edit, run_tests, submit) in a run.
    max_steps: int = Field(default=40, ge=1, le=200)
    #: The agent: each request's prompt is kept under this many tokens (old observations condensed).
    max_prompt_tokens: int = Field(default=32000, ge=4000)
    #: The agent's reviewer judges every action (true), none (false), or ``edit`` and ``submit`` (edits).
    review_steps: bool | Literal["edits"] = "edits"
    #: The reviewer's litellm model; None: the run's model and endpoint.
    review_model: str | None = None
    #: How the agent's tools reach the model: native function calls, the fenced ``action`` text format,
    #: or auto (native where litellm says the model supports function calling).
    tool_protocol: Literal["auto", "native", "text"] = "auto"
    #: A formatter run in the sandbox on the changed files before verification (e.g. ``ruff format``).
    format_command: str | None = None
    #: The bot's commits carry a ``Signed-off-by`` trailer (for repositories that require a DCO).
    signoff: bool = False
    #: When another check on the bot's PR head fails (CI), start one revision with its output as feedback.
    follow_ci: bool = False

    @field_validator("python", mode="before")
    @classmethod
    def _python_version(cls, value: object) -> object:
        if isinstance(value, float):  # YAML reads `python: 3.11` as a number
            value = format(value, "g")
        if value is not None and not (isinstance(value, str) and _PYTHON.match(value)):
            raise ValueError("must be a Python version such as '3.11'")
        return value

    @field_validator("language", mode="before")
    @classmethod
    def _language(cls, value: object) -> object:
        return _name(value, _LANGUAGE, "must be a language name such as 'python'")

    @field_validator("strategy", mode="before")
    @classmethod
    def _strategy(cls, value: object) -> object:
        return _name(value, _STRATEGY, "must be a strategy name such as 'agent' or 'pipeline'")

    @field_validator("review_steps", mode="before")
    @classmethod
    def _review_steps(cls, value: object) -> object:
        if isinstance(value, str):
            value = {"true": True, "false": False}.get(value.strip().lower(), value.strip().lower())
        if value is not True and value is not False and value != "edits":
            raise ValueError("must be true (every action), false (none) or edits (edit and submit)")
        return value

    @field_validator("tool_protocol", mode="before")
    @classmethod
    def _tool_protocol(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().lower()
        if value not in ("auto", "native", "text"):
            raise ValueError("must be auto, native or text")
        return value

    @field_validator("signoff", "follow_ci", mode="before")
    @classmethod
    def _signoff(cls, value: object) -> object:
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value

    @field_validator("protected_paths")
    @classmethod
    def _patterns(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and any(not p.strip() for p in value):
            raise ValueError("a pattern must not be empty")
        return value

    @field_validator(
        "label", "test_command", "setup_command", "image", "model", "review_model", "format_command"
    )
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty")
        return value


def parse(text: str, *, source: str = CONFIG_PATH) -> RepoConfig:
    """Parse the YAML text of a config file; raise :class:`ConfigError` saying exactly what is wrong."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source} is not valid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source} must be a mapping of keys to values, not {type(data).__name__}")
    try:
        return RepoConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(top level)"
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(f"{where}: {msg}")
        raise ConfigError(f"{source} is invalid: " + "; ".join(problems)) from exc


def load(work_tree: Path) -> RepoConfig:
    """The config in a checked-out repository, or the defaults when it has none."""
    from repomind.sandbox import repofs

    try:
        text = repofs.read_text(work_tree, CONFIG_PATH, max_bytes=MAX_CONFIG_BYTES, errors="strict")
    except FileNotFoundError:
        return RepoConfig()
    except (OSError, UnicodeDecodeError, repofs.UnsafePathError) as exc:  # a symlink is never followed
        raise ConfigError(f"cannot read {CONFIG_PATH}: {exc}") from exc
    return parse(text)


def read_default_branch(source: FileSource, full_name: str, default_branch: str) -> RepoConfig:
    """The config on the repository's default branch (defaults when it has none); :class:`ConfigError`
    saying what is wrong."""
    text = source.get_file(full_name, CONFIG_PATH, default_branch)
    if text is None:
        return RepoConfig()
    return parse(text, source=f"{CONFIG_PATH} on {default_branch}")

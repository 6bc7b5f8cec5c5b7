"""The environment of an instance that ``swebench`` has no specification for, built the bot's way.

A task built from a repository's own history (:mod:`repomind.eval.backtest.tasks`) has no entry in
``swebench``'s ``MAP_REPO_VERSION_TO_SPECS``. Its environment is then what the bot would set up: the
repository's ``.github/repomind.yml`` (read through :mod:`repomind.sandbox.repofs`, never through a
symlink), its toolchain (:func:`repomind.pipeline.toolchain.select.toolchain_for`) and the environment the
toolchain asks the sandbox for; its tests run with the toolchain's command and their outcomes are read
by the toolchain, in the vocabulary the official grading takes. Which of the two an evaluation used is
recorded as ``environment``: :data:`SPECIFICATION` or :data:`REPOSITORY`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repomind import repoconfig
from repomind.eval.swebench import specs
from repomind.pipeline.solve.verify import TestRun, run_tests
from repomind.pipeline.toolchain.protocol import Toolchain
from repomind.pipeline.toolchain.select import toolchain_for
from repomind.repoconfig import RepoConfig
from repomind.sandbox import Environment, Sandbox, repofs

SPECIFICATION, REPOSITORY = "specification", "repository"
#: Toolchain outcomes → the statuses ``swebench``'s grading reads (an xpass is not a pass there either).
_STATUS = {
    "passed": "PASSED",
    "failed": "FAILED",
    "error": "ERROR",
    "skipped": "SKIPPED",
    "xfailed": "XFAIL",
    "xpassed": "FAILED",
}


@dataclass(frozen=True)
class RepositorySpec:
    """No ``swebench`` specification for (repo, version): build the environment as the bot does."""

    repo: str
    version: str
    reason: str


def choose(
    repo: str,
    version: str,
    raw: Mapping[str, Any] | None,
    *,
    available_pythons: tuple[str, ...],
    python_fallback: bool = False,
) -> specs.EvalSpec | specs.Unavailable | RepositorySpec:
    """The specification's environment when ``swebench`` (or ``--specs``) has one, else the bot's way."""
    if raw is None:
        why = f"swebench has no environment specification for {repo} {version or '(no version)'}"
        return RepositorySpec(repo, version, why)
    return specs.resolve(
        repo, version, raw, available_pythons=available_pythons, python_fallback=python_fallback
    )


def environment_kind(spec: specs.EvalSpec | specs.Unavailable | RepositorySpec) -> str:
    """What the report says the evaluation used."""
    return REPOSITORY if isinstance(spec, RepositorySpec) else SPECIFICATION


@dataclass(frozen=True)
class BotEnvironment:
    """An environment prepared the bot's way, with the toolchain that runs and reads its tests."""

    env: Environment
    toolchain: Toolchain
    config: RepoConfig


def prepare(sandbox: Sandbox, tree: Path, repo: str, config: RepoConfig | None = None) -> BotEnvironment:
    """The repository's environment at ``tree`` as the bot prepares it (``config``: its own
    ``.github/repomind.yml`` at ``tree`` when not given). Raises what the bot's run stops on:
    :class:`repomind.sandbox.EnvironmentSetupError`, :class:`repomind.errors.ConfigError`,
    :class:`repomind.errors.UnsupportedRepository`."""
    config = config if config is not None else repoconfig.load(tree)
    tools = toolchain_for(tree, config)
    name = repo.rsplit("/", 1)[-1]
    env = sandbox.prepare(tree, tools.environment(name, config))
    return BotEnvironment(env, tools, config)


def test_files(toolchain: Toolchain, paths: Sequence[str], tree: Path) -> list[str]:
    """Of ``paths`` (those a test patch touches), the runnable test files that exist in ``tree``."""
    return [
        p for p in dict.fromkeys(paths) if toolchain.is_runnable_test(p) and repofs.is_regular_file(tree, p)
    ]


def run(sandbox: Sandbox, bot: BotEnvironment, tree: Path, files: Sequence[str]) -> TestRun:
    """The toolchain's test command on ``files`` (the whole suite when empty), with its outcomes."""
    command = bot.toolchain.test_command(tuple(files))
    return run_tests(sandbox, bot.env, tree, command, toolchain=bot.toolchain)


def swebench_status(results: dict[str, str]) -> dict[str, str]:
    """Toolchain outcomes as ``swebench``'s parsers name them (what ``grading.grade`` reads)."""
    return {test: _STATUS.get(outcome, "FAILED") for test, outcome in results.items()}

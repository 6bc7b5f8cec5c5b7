"""Strategies (`repomind.pipeline.strategies`): the run's `strategy` is resolved by the one precedence
(flag > repository config > `REPOMIND_STRATEGY` > one-shot), an unknown one stops in `build_run` before
any model call, and the strategy `repomind solve` runs is the registered one its name picks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from repomind import repoconfig
from repomind.cli import cli
from repomind.cli.context import Context
from repomind.compose import Boundaries, Overrides, RunConfig, ServerDefaults, build_run, resolve
from repomind.compose.config import DEFAULT_STRATEGY
from repomind.errors import ConfigError
from repomind.pipeline import strategies
from repomind.pipeline.solve import SolveReport, SolveRequest
from repomind.pipeline.strategies import STRATEGIES, Agent, Strategy, strategy_for
from repomind.pipeline.strategies.one_shot import OneShot
from repomind.repoconfig import RepoConfig
from repomind.settings import Settings
from repomind.testing import FakeSandbox, ScriptedModel, make_git_repo
from tests.pipeline import solve_fixtures as fx

# flag, repository config, server setting, expected
PRECEDENCE = [
    ("flag-one", "repo-one", "server-one", "flag-one"),
    (None, "repo-one", "server-one", "repo-one"),
    (None, None, "server-one", "server-one"),
    (None, None, None, "agent"),
]


@pytest.mark.parametrize(("flag", "repo", "server", "expected"), PRECEDENCE)
def test_strategy_flag_over_repository_over_settings_over_default(
    flag: str | None, repo: str | None, server: str | None, expected: str
) -> None:
    run = resolve(ServerDefaults(strategy=server), RepoConfig(strategy=repo), Overrides(strategy=flag))
    assert run.strategy == expected


def test_the_settings_and_the_repository_name_a_strategy(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("REPOMIND_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("REPOMIND_STRATEGY", "one-shot")
    assert ServerDefaults.from_settings(Settings()).strategy == "one-shot"
    assert repoconfig.parse("strategy: One-Shot\n").strategy == "one-shot"
    with pytest.raises(ConfigError, match="strategy"):
        repoconfig.parse("strategy: not a name\n")


def test_the_agent_is_the_default_and_the_registry_holds_both() -> None:
    assert DEFAULT_STRATEGY == "agent" and isinstance(strategy_for("agent"), Agent)
    assert isinstance(strategy_for("one-shot"), OneShot)
    assert STRATEGIES["one-shot"].name == STRATEGIES["pipeline"].name == "pipeline"


def test_an_unknown_strategy_stops_build_run_before_any_model(tmp_path: Path) -> None:
    made: list[str] = []

    def model(name: str, **_kw: Any) -> ScriptedModel:
        made.append(name)
        return ScriptedModel([], model=name)

    settings = Settings(data_dir=tmp_path, embedding_model="none")
    config = RunConfig(model="openai/m", strategy="nope")
    boundaries = Boundaries(model=model, sandbox=lambda _limits, **_kw: FakeSandbox())
    with pytest.raises(
        ConfigError, match="unknown strategy 'nope': known strategies are agent, one-shot, pipeline"
    ):
        build_run(settings, config, boundaries=boundaries)
    assert made == []
    with pytest.raises(ConfigError, match="one-shot"):
        strategy_for("nope")


class Recording:
    """A strategy that records its runs and solves as one-shot does."""

    name = "recording"

    def __init__(self) -> None:
        self.requests: list[SolveRequest] = []

    def solve(self, request: SolveRequest, **kwargs: Any) -> SolveReport:
        self.requests.append(request)
        return OneShot().solve(request, **kwargs)


def _solve(settings: Settings, repo: Path, out: Path, *extra: str) -> Any:
    boundaries = Boundaries(
        model=lambda name, **_kw: ScriptedModel([fx.FIX], model=name),
        sandbox=lambda _limits, **_kw: FakeSandbox(script=fx.run_on_host),
    )
    args = ["solve", "--repo", str(repo), "--issue-text", fx.ISSUE, "--out", str(out), "--model", "openai/m"]
    return CliRunner().invoke(cli, [*args, *extra], obj=Context(settings, boundaries), catch_exceptions=False)


def test_solve_runs_the_strategy_its_flag_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    recording = Recording()
    registered: Strategy = recording
    monkeypatch.setitem(strategies.STRATEGIES, "recording", registered)
    repo = make_git_repo(tmp_path / "repo", fx.FILES)
    settings = Settings(data_dir=tmp_path / "data", embedding_model="none")
    result = _solve(settings, repo, tmp_path / "run", "--strategy", "recording", "--json")
    assert result.exit_code == 0, result.output
    assert [r.repo for r in recording.requests] == [str(repo)]
    assert json.loads((tmp_path / "run" / "report.json").read_text())["success"]


def test_solve_refuses_an_unknown_strategy_naming_the_known_ones(tmp_path: Path) -> None:
    repo = make_git_repo(tmp_path / "repo", fx.FILES)
    settings = Settings(data_dir=tmp_path / "data", embedding_model="none")
    result = CliRunner().invoke(
        cli,
        ["solve", "--repo", str(repo), "--issue-text", fx.ISSUE, "--model", "openai/m", "--strategy", "nope"],
        obj=Context(settings, Boundaries(model=_no_model, sandbox=lambda _l, **_kw: FakeSandbox())),
    )
    assert isinstance(result.exception, ConfigError), result.output  # `main` prints it and exits 2
    assert "known strategies are agent, one-shot, pipeline" in str(result.exception)


def _no_model(name: str, **_kw: Any) -> ScriptedModel:
    raise AssertionError("no model may be made for an unknown strategy")

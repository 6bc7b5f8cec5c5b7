"""The composition (`repomind.compose`): the one precedence (flag > repository config > server settings >
default) as a table, and the runs it builds through the real entry points: `repomind solve` honours the
repository's `model` (unless `--model` is given) and `REPOMIND_RERANK`; `eval swebench --model` localises
with the bot's calibration (the repository's own first) and passes `--strategy` and `--max-steps` on.
(`/repomind status` naming the configured label is in tests/bot/test_triggers.py.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from repomind.cli import cli
from repomind.cli.context import Context
from repomind.compose import Boundaries, Overrides, ServerDefaults, resolve
from repomind.errors import ConfigError, UsageError
from repomind.pipeline.localise.calibrate import Calibration
from repomind.repoconfig import RepoConfig
from repomind.settings import Settings
from repomind.testing import FakeSandbox, ScriptedModel, StandInLLMServer, make_git_repo
from tests.pipeline import solve_fixtures as fx

#: The server setting behind each value (None: the settings have none).
SETTING = {
    "model": "model",
    "rerank": "rerank",
    "label": "label",
    "budget_usd": "max_budget_usd",
    "budget_tokens": "max_budget_tokens",
    "python": None,
    "max_attempts": None,
    "max_steps": None,
}

# value, flag, repository config, server setting, expected
PRECEDENCE = [
    ("model", "openai/flag", "openai/repo", "openai/server", "openai/flag"),
    ("model", None, "openai/repo", "openai/server", "openai/repo"),
    ("model", None, None, "openai/server", "openai/server"),
    ("model", None, None, None, None),
    ("rerank", "llm:flag", None, "llm:server", "llm:flag"),
    ("rerank", None, None, "llm:server", "llm:server"),
    ("rerank", None, None, None, None),
    ("label", None, "autofix", "server-label", "autofix"),
    ("label", None, None, "server-label", "server-label"),
    ("label", None, None, None, "repomind"),
    ("budget_usd", 9.0, 3.0, 2.0, 9.0),  # the operator's flag is not held to the ceiling
    ("budget_usd", None, 1.5, 2.0, 1.5),
    ("budget_usd", None, 3.0, 2.0, 2.0),  # held to the server's ceiling
    ("budget_usd", None, None, 2.0, 2.0),  # the ceiling is the budget when the repository sets none
    ("budget_usd", None, None, None, None),
    ("budget_tokens", 900, 5000, 1000, 900),
    ("budget_tokens", None, 500, 1000, 500),
    ("budget_tokens", None, 5000, 1000, 1000),
    ("budget_tokens", None, None, None, None),
    ("python", "3.12", "3.10", None, "3.12"),
    ("python", None, "3.10", None, "3.10"),
    ("python", None, None, None, None),
    ("max_attempts", 5, 2, None, 5),
    ("max_attempts", None, 2, None, 2),
    ("max_attempts", None, None, None, 3),
    ("max_steps", 12, 7, None, 12),
    ("max_steps", None, 7, None, 7),
    ("max_steps", None, None, None, 40),
]


@pytest.mark.parametrize(("value", "flag", "repo", "server", "expected"), PRECEDENCE)
def test_flag_over_repository_over_settings_over_default(
    value: str, flag: Any, repo: Any, server: Any, expected: Any
) -> None:
    flags = Overrides(**({value: flag} if flag is not None else {}))
    config = RepoConfig(**({value: repo} if repo is not None else {}))
    setting = SETTING[value]
    defaults = ServerDefaults(**({setting: server} if setting and server is not None else {}))
    run = resolve(defaults, config, flags)
    got = getattr(run, value) if value in ("model", "rerank", "label") else getattr(run.repo, value)
    assert got == expected


def test_the_adapter_comes_after_the_repository_and_before_the_server() -> None:
    server = ServerDefaults(model="openai/base")
    assert resolve(server, RepoConfig(), adapter="openai/adapter").model == "openai/adapter"
    assert (
        resolve(server, RepoConfig(model="openai/theirs"), adapter="openai/adapter").model == "openai/theirs"
    )
    assert resolve(server, RepoConfig(), Overrides(model="f"), adapter="openai/adapter").model == "f"


def test_a_lowered_budget_is_said_and_the_rest_of_the_config_is_kept() -> None:
    config = RepoConfig(budget_usd=50, test_command="make test", ignore_paths=["docs/"])
    run = resolve(ServerDefaults(max_budget_usd=2.0), config)
    assert run.notes == (
        "Budget: `budget_usd` ($50) is above this server's ceiling; this run may spend at most $2.",
    )
    assert (run.repo.test_command, run.repo.ignore_paths) == ("make test", ["docs/"])
    with pytest.raises(ConfigError, match="python"):
        resolve(ServerDefaults(), None, Overrides(python="three"))


def test_server_defaults_come_from_the_settings_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REPOMIND_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("REPOMIND_LABEL", "autofix")
    monkeypatch.setenv("REPOMIND_RERANK", "llm")
    monkeypatch.setenv("REPOMIND_MAX_BUDGET_TOKENS", "1000")
    defaults = ServerDefaults.from_settings(Settings())
    assert (defaults.label, defaults.rerank, defaults.max_budget_tokens) == ("autofix", "llm", 1000)


def _cli(settings: Settings, args: list[str], box: FakeSandbox, model: Any = None) -> Any:
    boundaries = Boundaries(sandbox=lambda _limits, **_kw: box, **({"model": model} if model else {}))
    return CliRunner().invoke(cli, args, obj=Context(settings, boundaries), catch_exceptions=False)


def test_solve_uses_the_repositorys_model_and_the_servers_reranker(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    repo = make_git_repo(
        tmp_path / "repo", {**fx.FILES, ".github/repomind.yml": "model: openai/repo-model\n"}
    )
    with StandInLLMServer(['["calc/ops.py"]', fx.FIX]) as llm:
        monkeypatch.setenv("REPOMIND_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("REPOMIND_EMBEDDING_MODEL", "none")
        monkeypatch.setenv("REPOMIND_MODEL", "openai/server-model")
        monkeypatch.setenv("REPOMIND_LLM_API_BASE", llm.url)
        monkeypatch.setenv("REPOMIND_RERANK", "llm")
        monkeypatch.setenv("REPOMIND_STRATEGY", "pipeline")  # the replies are the pipeline's
        out = tmp_path / "run"
        args = ["solve", "--repo", str(repo), "--issue-text", fx.ISSUE, "--out", str(out), "--json"]
        result = _cli(Settings(), args, FakeSandbox(script=fx.run_on_host))
    assert result.exit_code == 0, result.output
    assert [r["model"] for r in llm.requests] == ["repo-model", "repo-model"]  # not REPOMIND_MODEL
    assert "calc/ops.py" in llm.prompts()[0] and "<<<<<<< SEARCH" not in llm.prompts()[0]  # re-ranking
    report = json.loads((out / "report.json").read_text())
    assert report["success"] and report["model"] == "openai/repo-model"
    assert "rerank" in report["localisation"]["signals"]


@pytest.mark.parametrize("own", [False, True], ids=["shared-calibration", "the-repositorys-own"])
def test_eval_swebench_model_localises_with_the_bots_calibration(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, own: bool
) -> None:
    from tests.requirements import require

    require("swebench")
    from tests.eval.swebench_fixtures import make_dataset, write_specs

    dataset, repos, _gold = make_dataset(tmp_path)
    monkeypatch.setenv("REPOMIND_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("REPOMIND_EMBEDDING_MODEL", "none")
    settings = Settings()
    where = settings.calibration_file_for("acme/calc") if own else settings.calibration_file
    where.parent.mkdir(parents=True, exist_ok=True)
    Calibration([0.0] * 49 + [1.0], [f"cal-{i}" for i in range(50)]).save(where)
    names: list[str] = []

    def model(name: str, **_kw: Any) -> ScriptedModel:
        names.append(name)
        return ScriptedModel([], model=name)  # no reply: each run stops after localising

    out = tmp_path / "out"
    args = ["eval", "swebench", "--dataset", str(dataset), "--repos", str(repos), "--specs"]
    args += [str(write_specs(tmp_path)), "--model", "openai/m", "--instances", "acme__calc-1"]
    result = _cli(settings, [*args, "--out", str(out)], FakeSandbox(), model)
    assert result.exit_code == 0, result.output
    assert names == ["openai/m"]
    solved = json.loads((out / "instances" / "acme__calc-1" / "solve_report.json").read_text())
    localisation = solved["localisation"]
    assert localisation["set"] and localisation["confidence"] == 0.9  # calibrated, as the bot's runs are
    assert localisation["calibration"] == {"source": "github" if own else "shared", "n": 50}


def test_eval_swebench_max_steps_reaches_each_instances_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tests.requirements import require

    require("swebench")
    from repomind.pipeline import strategies
    from repomind.pipeline.solve import SolveReport, SolveRequest
    from repomind.pipeline.strategies.one_shot import OneShot
    from tests.eval.swebench_fixtures import make_dataset, write_specs

    seen: list[SolveRequest] = []

    class Recording:
        name = "recording"

        def solve(self, request: SolveRequest, **kwargs: Any) -> SolveReport:
            seen.append(request)
            return OneShot().solve(request, **kwargs)

    monkeypatch.setitem(strategies.STRATEGIES, "recording", Recording())
    dataset, repos, _gold = make_dataset(tmp_path)
    monkeypatch.setenv("REPOMIND_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("REPOMIND_EMBEDDING_MODEL", "none")
    args = ["eval", "swebench", "--dataset", str(dataset), "--repos", str(repos), "--specs"]
    args += [str(write_specs(tmp_path)), "--instances", "acme__calc-1", "--out", str(tmp_path / "out")]
    with pytest.raises(UsageError, match="--max-steps limits how --model solves"):
        _cli(Settings(), [*args, "--predictions", "gold", "--max-steps", "5"], FakeSandbox())
    model = lambda name, **_kw: ScriptedModel([], model=name)  # noqa: E731
    flags = ["--model", "openai/m", "--strategy", "recording", "--max-steps", "5"]
    result = _cli(Settings(), [*args, *flags], FakeSandbox(), model)
    assert result.exit_code == 0, result.output
    assert [r.config.max_steps if r.config else None for r in seen] == [5]


def test_solve_max_steps_and_the_repositorys_agent_keys_reach_the_strategy(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from repomind.pipeline import strategies
    from repomind.pipeline.solve import SolveReport, SolveRequest
    from repomind.pipeline.strategies.one_shot import OneShot

    seen: list[SolveRequest] = []

    class Recording:
        name = "recording"

        def solve(self, request: SolveRequest, **kwargs: Any) -> SolveReport:
            seen.append(request)
            return OneShot().solve(request, **kwargs)

    monkeypatch.setitem(strategies.STRATEGIES, "recording", Recording())
    keys = 'max_steps: 7\nreview_steps: false\ntool_protocol: text\nformat_command: "true"\nsignoff: true\n'
    repo = make_git_repo(tmp_path / "repo", {**fx.FILES, ".github/repomind.yml": keys})
    settings = Settings(data_dir=tmp_path / "data", embedding_model="none")
    args = ["solve", "--repo", str(repo), "--issue-text", fx.ISSUE, "--model", "openai/m"]
    args += ["--strategy", "recording", "--max-steps", "12", "--out", str(tmp_path / "run")]
    model = lambda name, **_kw: ScriptedModel([fx.FIX], model=name)  # noqa: E731
    result = _cli(settings, args, FakeSandbox(script=fx.run_on_host), model)
    assert result.exit_code == 0, result.output
    [request] = seen
    assert request.config is not None
    assert (request.config.max_steps, request.config.review_steps, request.config.tool_protocol) == (
        12,
        False,
        "text",
    )
    assert (request.config.format_command, request.config.signoff) == ("true", True)
    # the summary names the evidence the issue tied to it (the issue names tests/test_ops.py::test_add)
    assert "evidence tied to the issue: tests/test_ops.py::test_add" in result.output
    assert "not named in the issue" not in result.output
    bad = _cli(settings, [*args[:-1], str(tmp_path / "run2"), "--max-steps", "0"], FakeSandbox(), model)
    assert bad.exit_code == 2 and "--max-steps" in bad.output


def test_a_clone_url_takes_max_steps_from_the_flag_into_the_request(tmp_path: Path) -> None:
    """Where the repository's config is read only at its starting revision, the flag goes with the
    request (as ``max_attempts`` and the budgets do)."""
    from typing import cast

    from repomind.compose.run import RunParts

    config = resolve(ServerDefaults(), None, Overrides(max_steps=9))
    assert not config.repo_known and config.repo.max_steps == 9
    parts = RunParts(config, *cast(Any, (None, None, None, None, None)))
    request = parts.request("https://example.invalid/r.git", "issue", tmp_path)
    assert request.config is None and request.max_steps == 9


def test_a_model_flag_wins_over_the_repositorys_model(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    repo = make_git_repo(
        tmp_path / "repo", {**fx.FILES, ".github/repomind.yml": "model: openai/repo-model\n"}
    )
    with StandInLLMServer([fx.FIX]) as llm:
        monkeypatch.setenv("REPOMIND_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("REPOMIND_EMBEDDING_MODEL", "none")
        monkeypatch.setenv("REPOMIND_LLM_API_BASE", llm.url)
        out = tmp_path / "run"
        args = [
            "solve",
            "--repo",
            str(repo),
            "--issue-text",
            fx.ISSUE,
            "--out",
            str(out),
            "--strategy",
            "pipeline",
        ]
        result = _cli(Settings(), [*args, "--model", "openai/flag-model"], FakeSandbox(script=fx.run_on_host))
    assert result.exit_code == 0, result.output
    assert [r["model"] for r in llm.requests] == ["flag-model"]

"""`repomind backtest`'s replay: today's configuration, the history hidden after the base, the report."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from repomind.pipeline.instance import Instance
from repomind.testing import git, make_git_repo
from tests.eval.swebench_fixtures import FILES, FIXED, REPO, TESTS, write_specs

CONFIG = ".github/repomind.yml"
FIX = (
    "calc.py\n```python\n<<<<<<< SEARCH\ndef sub(a, b):\n    return a + b\n=======\n"
    "def sub(a, b):\n    return a - b\n>>>>>>> REPLACE\n```\n"
)


def _history(root: Path) -> tuple[Path, str, str, Instance]:
    """A clone with the bug (base), its fix and test (the fix commit), then a config set only at HEAD;
    and the task of the fix, as a task builder writes it."""
    clone = make_git_repo(root / "clone", FILES)
    base = git(clone, "rev-parse", "HEAD").strip()
    (clone / "calc.py").write_text(FIXED)
    gold = git(clone, "diff")
    git(clone, "checkout", "--", "calc.py")
    (clone / "tests" / "test_calc.py").write_text(TESTS)
    test_patch = git(clone, "diff")
    (clone / "calc.py").write_text(FIXED)
    git(clone, "commit", "-qam", "fix sub() and test it")
    fix = git(clone, "rev-parse", "HEAD").strip()
    (clone / ".github").mkdir()
    (clone / CONFIG).write_text("strategy: pipeline\nmax_attempts: 2\n")
    git(clone, "add", "-A")
    git(clone, "commit", "-qm", "configure repomind")
    task = Instance(
        instance_id="acme__calc-1",
        repo=REPO,
        base_commit=base,
        problem_statement="sub() adds instead of subtracting",
        patch=gold,
        test_patch=test_patch,
        fail_to_pass=["tests/test_calc.py::test_sub"],
        pass_to_pass=["tests/test_calc.py::test_add"],
        version="1.0",
    )
    return clone, base, fix, task


def test_hidden_clone_holds_nothing_after_the_base(tmp_path: Path) -> None:
    from repomind.eval.backtest.replay import hidden_clone

    clone, base, fix, _task = _history(tmp_path)
    hidden = hidden_clone(clone, base, tmp_path / "hidden" / "history.git")
    assert git(hidden, "rev-parse", "HEAD").strip() == base
    assert git(hidden, "rev-list", "--all").split() == [base]
    with pytest.raises(subprocess.CalledProcessError):  # the fix commit is not even present
        git(hidden, "cat-file", "-e", fix)
    assert git(clone, "rev-parse", "HEAD").strip() != base  # the clone itself is untouched


def test_current_config_is_the_default_branch_one(tmp_path: Path) -> None:
    from repomind.compose import Overrides, resolve_local
    from repomind.eval.backtest.replay import current_config
    from repomind.settings import Settings

    clone, base, _fix, _task = _history(tmp_path)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    today = current_config(settings, clone, Overrides())
    assert (today.strategy, today.repo.max_attempts) == ("pipeline", 2)
    then = resolve_local(settings, str(clone), base, Overrides())
    assert then.repo.max_attempts == 3 and then.strategy != "pipeline"  # the base has no config
    assert current_config(settings, clone, Overrides(strategy="agent")).strategy == "agent"  # flags win


def test_the_oracle_gets_steps_for_every_hunk_of_a_long_fix(tmp_path: Path) -> None:
    """Three steps per hunk: a fix of 14 hunks needs 44 steps, more than the agent's 40 by default; the
    oracle's ceiling must not be the step limit. A real model keeps the configured limit."""
    from repomind.eval.backtest.replay import current_config, replay_flags
    from repomind.settings import Settings

    clone, _base, _fix, _task = _history(tmp_path)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    oracle = current_config(settings, clone, replay_flags("oracle", None, "agent"))
    assert oracle.repo.max_steps == 200
    model = current_config(settings, clone, replay_flags("openai/gpt-4o", None, "agent"))
    assert model.repo.max_steps == 40


def test_report_rows_and_summary(tmp_path: Path) -> None:
    from repomind.eval.backtest import report

    _clone, _base, _fix, task = _history(tmp_path)
    other = Instance(**{**task.__dict__, "instance_id": "acme__calc-2"})
    third = Instance(**{**task.__dict__, "instance_id": "acme__calc-3"})
    records = [
        {"instance_id": "acme__calc-1", "verdict": "resolved", "localised": ["calc.py", "x.py"],
         "attempts": 1, "steps": 0, "tokens": 100, "cost_usd": 0.5, "solve_s": 2.0, "total_s": 1.0},
        {"instance_id": "acme__calc-2", "verdict": "unresolved", "localised": ["x.py"], "cost_usd": 0.25},
        {"instance_id": "acme__calc-3", "verdict": "unavailable", "reason": "no environment"},
    ]  # fmt: skip
    data = report.write(tmp_path, [task, other, third], records, {"model": "m"})
    rows = {r["instance_id"]: r for r in data["tasks"]}
    assert rows["acme__calc-1"]["covered"] is True and rows["acme__calc-2"]["covered"] is False
    assert rows["acme__calc-1"]["seconds"] == 3.0 and rows["acme__calc-1"]["resolved"] is True
    summary = data["summary"]
    assert (summary["n"], summary["resolved"], summary["unavailable"]) == (3, 1, 1)
    assert summary["resolve_rate"] == 0.5 and summary["coverage"] == 0.5
    assert summary["cost_per_resolved_usd"] == 0.75
    assert json.loads((tmp_path / "report.json").read_text())["summary"] == summary
    assert (tmp_path / "resolve_rate.png").is_file() and (tmp_path / "per_task.png").is_file()


def _replay(tmp_path: Path, *extra: str, env: dict[str, str]) -> tuple[Any, Path, str, str]:
    from repomind.pipeline.instance import save
    from tests.test_cli import run

    clone, base, fix, task = _history(tmp_path)
    tasks = tmp_path / "given.jsonl"
    save([task], tasks)
    out = tmp_path / "out"
    args = ["backtest", "--repo", str(clone), "--tasks", str(tasks), "--specs", str(write_specs(tmp_path))]
    res = run(*args, *extra, "--out", str(out), env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return res, out, base, fix


@pytest.mark.docker
@pytest.mark.slow
def test_replay_with_a_scripted_model_and_todays_config(tmp_path: Path, docker_client: Any) -> None:
    """No --strategy: the `pipeline` and `max_attempts: 2` set only at HEAD reach the run at the base."""
    from repomind.testing import StandInLLMServer

    env = {"REPOMIND_DATA_DIR": str(tmp_path / "data"), "REPOMIND_EMBEDDING_MODEL": "none"}
    with StandInLLMServer([FIX] * 3) as server:
        res, out, base, _fix = _replay(
            tmp_path, "--model", "openai/stand-in", "--api-base", server.url, env=env
        )
    summary = json.loads(res.stdout)
    assert (summary["n"], summary["resolved"], summary["resolve_rate"], summary["coverage"]) == (
        1,
        1,
        1.0,
        1.0,
    )
    assert "cost_per_resolved_usd" in summary
    data = json.loads((out / "report.json").read_text())
    assert data["summary"] == summary
    row = data["tasks"][0]
    assert row["instance_id"] == "acme__calc-1" and row["verdict"] == "resolved" and row["resolved"]
    assert "calc.py" in row["localised"] and row["covered"] is True
    assert row["tokens"] > 0 and row["seconds"] > 0 and "steps" in row
    assert row["strategy"] == "pipeline"  # today's config, not the base's (which has none)
    assert row["history"] == {"head": base, "commits": 1}  # the solve saw only the base's history
    solved = json.loads((out / "instances" / "acme__calc-1" / "solve_report.json").read_text())
    # max_attempts: 2 from today's config (the default is 3); the scripted fix writes no test, so the bot
    # could not verify it and used both attempts, the patch is the prediction all the same
    assert solved["max_attempts"] == 2 and row["attempts"] == 2
    assert [json.loads(x)["instance_id"] for x in (out / "tasks.jsonl").read_text().splitlines()] == [
        "acme__calc-1"
    ]
    prediction = json.loads((out / "predictions.jsonl").read_text())
    assert "-    return a + b\n+    return a - b" in prediction["model_patch"]
    assert (out / "resolve_rate.png").is_file() and (out / "per_task.png").is_file()


@pytest.mark.docker
@pytest.mark.slow
def test_oracle_replay_of_tasks_built_from_the_history(tmp_path: Path, docker_client: Any) -> None:
    """No --tasks: the fix commit becomes a task (its test fails before, passes after), graded without a
    specification (the repository's own way); the oracle, through the agent, resolves it."""
    from tests.test_cli import run

    clone, base, fix, _task = _history(tmp_path)
    out = tmp_path / "out"
    env = {"REPOMIND_DATA_DIR": str(tmp_path / "data"), "REPOMIND_EMBEDDING_MODEL": "none"}
    args = ["backtest", "--repo", str(clone), "--model", "oracle", "--strategy", "agent", "--out", str(out)]
    res = run(*args, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    [task] = [json.loads(x) for x in (out / "tasks.jsonl").read_text().splitlines()]
    assert task["instance_id"] == f"local__clone-{fix[:12]}" and task["base_commit"] == base
    assert task["FAIL_TO_PASS"] == ["tests/test_calc.py::test_sub"]
    assert task["problem_statement"].startswith("fix sub() and test it")
    summary = json.loads(res.stdout)
    assert (summary["n"], summary["resolved"]) == (1, 1), (out / "report.json").read_text()[-3000:]
    row = json.loads((out / "report.json").read_text())["tasks"][0]
    assert row["strategy"] == "agent" and row["steps"] > 0  # the flag over today's `pipeline`
    assert row["history"] == {"head": base, "commits": 1}
    verdict = json.loads((out / "instances" / task["instance_id"] / "verdict.json").read_text())
    assert verdict["environment"] != "swebench"  # no specification: the repository's way
    assert json.loads((out / "predictions.jsonl").read_text())["model_name_or_path"] == "oracle"
    assert any((out / "cache").iterdir())  # the task's outcome is cached for the next run


@pytest.mark.docker
@pytest.mark.slow
def test_backtest_from_github_over_the_stand_in(tmp_path: Path, docker_client: Any) -> None:
    """--from-github: a merged pull request that closes an issue is the task, the issue its statement."""
    from repomind.testing import StandInGitHub
    from tests.test_cli import run

    with StandInGitHub(tmp_path / "github") as gh:
        state = gh.state
        state.add_repo(REPO, make_git_repo(tmp_path / "src", FILES))
        work = tmp_path / "work"
        git(tmp_path, "clone", "-q", str(state.repos[REPO].git_dir), str(work))
        issue = state.open_issue(REPO, "sub() adds", "sub(3, 1) is 4.")
        git(work, "checkout", "-q", "-b", "fix")
        (work / "calc.py").write_text(FIXED)
        (work / "tests" / "test_calc.py").write_text(TESTS)
        git(work, "commit", "-qam", "Fix sub")
        git(work, "push", "-q", "origin", "fix")
        number = state.create_pull(
            REPO, title="Fix sub", head="fix", base="main", body=f"Fixes #{issue}.", draft=False
        ).number
        state.merge_pull(REPO, number)
        clone = tmp_path / "clone"
        git(tmp_path, "clone", "-q", "--bare", str(state.repos[REPO].git_dir), str(clone))
        env = {
            "REPOMIND_DATA_DIR": str(tmp_path / "data"),
            "REPOMIND_EMBEDDING_MODEL": "none",
            "REPOMIND_GITHUB_API_URL": gh.url,
            "GITHUB_TOKEN": state.issue_token(1).token,
        }
        out = tmp_path / "out"
        res = run(
            "backtest", "--repo", str(clone), "--from-github", REPO, "--model", "oracle",
            "--strategy", "agent", "--out", str(out), env=env, timeout=600,
        )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    [task] = [json.loads(x) for x in (out / "tasks.jsonl").read_text().splitlines()]
    assert task["instance_id"] == f"acme__calc-{number}" and task["repo"] == REPO
    assert task["problem_statement"] == "sub() adds\nsub(3, 1) is 4.\n"
    assert json.loads(res.stdout)["resolved"] == 1, (out / "report.json").read_text()[-3000:]


def test_repo_name_from_the_remote_or_the_directory(tmp_path: Path) -> None:
    from repomind.cli.backtest import repo_name

    clone, _base, _fix, _task = _history(tmp_path)
    assert repo_name(clone) == "local/clone"
    mirror = tmp_path / "acme__calc"
    mirror.symlink_to(clone)
    assert repo_name(mirror) == "acme/calc"  # the name as given, not the link's target
    git(clone, "remote", "add", "origin", "https://github.com/acme/shop.git")
    assert repo_name(clone) == "acme/shop"


def test_backtest_refuses_bad_arguments_before_any_task(tmp_path: Path) -> None:
    from tests.test_cli import run

    clone, _base, _fix, _task = _history(tmp_path)
    out = str(tmp_path / "out")
    cases = [
        (["--from-github", "acme", "--model", "m"], "is not OWNER/REPO"),
        (["--tasks", str(tmp_path / "t.jsonl"), "--since", "2024-01-01", "--model", "m"], "--tasks replays"),
        (["--model", "m", "--strategy", "nonsense"], "nonsense"),
    ]
    for extra, message in cases:
        res = run("backtest", "--repo", str(clone), *extra, "--out", out)
        assert res.returncode != 0 and message in res.stderr, res.stderr
    assert not (tmp_path / "out").exists()
    shown = run("backtest", "--help")
    for option in ("--repo", "--from-github", "--limit", "--since", "--model", "--api-base", "--strategy"):
        assert option in shown.stdout

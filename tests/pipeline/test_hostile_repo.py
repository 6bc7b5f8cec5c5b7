"""A hostile repository and a model steered by it: symlinks to host files are never followed, and edits
to protected (CI, build, dependency) or ignored paths are refused and explained to the next attempt.

Real git repositories on disk, the real solve loop, the scripted model recording every request, and the
FakeSandbox (nothing here needs a test to run)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from repomind import repoconfig
from repomind.errors import ConfigError
from repomind.pipeline.solve import Category, RunEvents, SolveRequest, solve
from repomind.pipeline.solve.events import describe
from repomind.repoconfig import RepoConfig
from repomind.testing import FakeSandbox, ScriptedModel, git, make_git_repo
from tests.pipeline import solve_fixtures as fx

CANARY = "CANARY-7f3a9c-host-secret"


def _host_secrets(tmp_path: Path) -> tuple[Path, Path]:
    """A host file and a host directory holding the canary, outside any repository."""
    host = tmp_path / "host"
    (host / "dir").mkdir(parents=True)
    secret = host / "credentials"
    secret.write_text(f"TOKEN={CANARY}\n")
    (host / "dir" / "mod.py").write_text(f"SECRET = '{CANARY}'\n")
    return secret, host / "dir"


def _hostile_repo(tmp_path: Path) -> Path:
    secret, secret_dir = _host_secrets(tmp_path)
    repo = make_git_repo(tmp_path / "repo", fx.FILES)
    (repo / ".github").mkdir()
    for link in ("AGENTS.md", ".github/repomind.md", "calc/helpers.py"):
        os.symlink(secret, repo / link)
    os.symlink(secret_dir, repo / "vendor")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "symlinks to the host")
    return repo


def _all_text(root: Path) -> str:
    return "\n".join(
        p.read_text(errors="replace") for p in root.rglob("*") if p.is_file() and not p.is_symlink()
    )


def test_committed_symlinks_reach_no_prompt_artifact_or_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _hostile_repo(tmp_path)
    issue = fx.ISSUE + "\nSee calc/helpers.py and vendor/mod.py too.\n"
    through_dir = fx.block("vendor/mod.py", "SECRET = 'x'\n", "SECRET = 'gone'\n")
    through_file = fx.block("calc/helpers.py", "TOKEN=x\n", "TOKEN=gone\n")
    new_behind_link = fx.block("vendor/new.py", "", "X = 1\n")
    model = ScriptedModel([through_dir, through_file + new_behind_link, fx.FIX])
    logged: list[str] = []
    out = tmp_path / "run"
    report = solve(
        SolveRequest(
            str(repo),
            issue,
            out,
            config=RepoConfig(),
            include=("calc/helpers.py", "vendor/mod.py", "calc/ops.py"),
        ),
        model=model,
        sandbox=FakeSandbox(),
        events=RunEvents(lambda event: logged.append(describe(event) or "")),
    )
    # every edit through a symlink was refused; the host files are untouched
    assert [a.category for a in report.attempts[:2]] == [Category.EDIT_NOT_APPLIED] * 2
    assert "symbolic link" in report.attempts[0].summary and "symbolic link" in report.attempts[1].summary
    assert (tmp_path / "host" / "credentials").read_text() == f"TOKEN={CANARY}\n"
    assert sorted(p.name for p in (tmp_path / "host" / "dir").iterdir()) == ["mod.py"]
    # the third attempt edits a real file and goes on
    assert report.attempts[2].changed == ["calc/ops.py"]
    # the canary is in no prompt, no artifact, no log line, no output
    prompts = "\n".join(model.prompts())
    assert "## calc/ops.py" in prompts and "return a - b" in prompts
    assert CANARY not in prompts
    assert CANARY not in _all_text(out)
    assert CANARY not in "\n".join(logged)
    captured = capsys.readouterr()
    assert CANARY not in captured.out + captured.err


def test_a_symlinked_config_is_refused_not_read(tmp_path: Path) -> None:
    secret, _ = _host_secrets(tmp_path)
    repo = make_git_repo(tmp_path / "repo", fx.FILES)
    (repo / ".github").mkdir()
    os.symlink(secret, repo / ".github" / "repomind.yml")
    with pytest.raises(ConfigError, match="symlink") as info:
        repoconfig.load(repo)
    assert CANARY not in str(info.value)


def _run(tmp_path: Path, replies: list[str], config: RepoConfig) -> tuple[object, ScriptedModel, Path]:
    repo = make_git_repo(tmp_path / "repo", fx.FILES)
    model = ScriptedModel(list(replies))
    out = tmp_path / "run"
    report = solve(
        SolveRequest(str(repo), fx.ISSUE, out, config=config),
        model=model,
        sandbox=FakeSandbox(script=fx.run_on_host),
    )
    return report, model, out


WORKFLOW = fx.block(
    ".github/workflows/ci.yml", "", "on: push\njobs:\n  leak:\n    steps:\n      - run: env\n"
)


def test_an_edit_to_a_workflow_is_refused_and_shown_to_the_next_attempt(tmp_path: Path) -> None:
    report, model, out = _run(tmp_path, [fx.FIX + WORKFLOW, fx.FIX], RepoConfig())
    first, second = report.attempts  # type: ignore[attr-defined]
    assert first.category is Category.PROTECTED_PATH and first.diff == ""
    assert "`.github/workflows/ci.yml` is a protected path (`.github/**`)" in first.summary
    assert second.passed and ".github" not in second.diff
    prompt = model.prompts()[1]
    assert "Attempt 1: protected-path" in prompt and ".github/workflows/ci.yml" in prompt
    assert "protected_paths" in prompt  # how a maintainer allows it
    assert ".github" not in (out / "patch.diff").read_text()


@pytest.mark.parametrize(
    "path", ["pyproject.toml", "requirements-dev.txt", "tox.ini", "sub/package-lock.json", "setup.cfg"]
)
def test_build_and_dependency_files_are_protected_by_default(tmp_path: Path, path: str) -> None:
    report, _model, _out = _run(tmp_path, [fx.block(path, "", "x = 1\n")], RepoConfig(max_attempts=1))
    assert report.attempts[0].category is Category.PROTECTED_PATH  # type: ignore[attr-defined]


def test_protected_paths_in_the_config_replace_the_default(tmp_path: Path) -> None:
    config = RepoConfig(protected_paths=["calc/**"])
    report, _model, _out = _run(tmp_path, [fx.FIX + WORKFLOW], config.model_copy(update={"max_attempts": 1}))
    [attempt] = report.attempts  # type: ignore[attr-defined]
    assert attempt.category is Category.PROTECTED_PATH and "(`calc/**`)" in attempt.summary
    report, _model, _out = _run(tmp_path / "2", [fx.FIX + WORKFLOW], RepoConfig(protected_paths=[]))
    [attempt] = report.attempts  # type: ignore[attr-defined]
    assert attempt.passed and ".github/workflows/ci.yml" in attempt.changed


def test_ignore_paths_are_never_edited(tmp_path: Path) -> None:
    config = RepoConfig(ignore_paths=["calc/*"], max_attempts=1)
    report, _model, _out = _run(tmp_path, [fx.FIX], config)
    [attempt] = report.attempts  # type: ignore[attr-defined]
    assert attempt.category is Category.PROTECTED_PATH
    assert "`calc/ops.py` is in `ignore_paths` (`calc/*`)" in attempt.summary

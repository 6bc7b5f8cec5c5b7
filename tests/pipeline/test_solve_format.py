"""``format_command``: the repository's formatter runs in the sandbox on the changed files before the
tests, and only its changes to those files come back into the attempt's patch."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from repomind.pipeline.solve import SolveReport, SolveRequest, read_trajectory, solve
from repomind.repoconfig import RepoConfig
from repomind.testing import FakeSandbox, ScriptedModel, make_git_repo
from tests.pipeline import solve_fixtures as fx

#: A fix the model wrote unformatted.
UGLY_FIX = "Add.\n\n" + fx.block("calc/ops.py", "    return a - b\n", "    return a+b\n")


def formatter(code: int = 0) -> Any:
    """A FakeSandbox script: ``fmt FILE...`` spaces ``a+b`` in the files it is given, and also writes a
    cache file, a file it was not given and a protected one (all three must be ignored); anything else
    runs the tests on the host."""

    def script(argv: tuple[str, ...], tree: Path) -> tuple[int, str, str]:
        if argv[0] != "fmt":
            return fx.run_on_host(argv, tree)
        for rel in argv[2:]:
            path = tree / rel
            path.write_text(path.read_text().replace("a+b", "a + b"))
        (tree / ".fmt_cache").mkdir()
        (tree / ".fmt_cache" / "state").write_text("cached\n")
        (tree / "calc" / "__init__.py").write_text("# reformatted though not given\n")
        (tree / "pyproject.toml").write_text("[tool.evil]\n")
        return code, "", "" if code == 0 else "error: cannot format calc/ops.py"

    return script


def run(
    tmp_path: Path, reply: str, *, format_command: str | None, code: int = 0
) -> tuple[SolveReport, FakeSandbox, Path]:
    repo = make_git_repo(tmp_path / "repo", fx.FILES)
    box = FakeSandbox(script=formatter(code), isolated=True)
    out = tmp_path / "run"
    config = RepoConfig(format_command=format_command)
    request = SolveRequest(str(repo), fx.ISSUE, out, max_attempts=1, config=config)
    return solve(request, model=ScriptedModel([reply]), sandbox=box), box, out


def _lint(out: Path) -> dict[str, Any]:
    return next(e for e in read_trajectory(out / "trajectory.jsonl") if e["type"] == "lint")


def test_the_formatter_rewrites_the_changed_files_and_nothing_else(tmp_path: Path) -> None:
    report, box, out = run(tmp_path, UGLY_FIX, format_command="fmt --quiet")
    assert report.success and report.verified
    assert ("fmt", "--quiet", "calc/ops.py") in box.commands  # the changed file only
    fmt_at = box.commands.index(("fmt", "--quiet", "calc/ops.py"))
    assert fmt_at == 0  # before any test ran
    patch = (out / "patch.diff").read_text()
    assert "+    return a + b" in patch and "a+b" not in patch
    assert (out / "attempt-1" / "patch.diff").read_text() == patch == report.attempts[0].diff
    for other in (".fmt_cache", "calc/__init__.py", "pyproject.toml"):
        assert other not in patch
    lint = _lint(out)
    assert lint["problems"] == []
    assert lint["formatted"].startswith("format_command reformatted 1 file(s): calc/ops.py")
    assert "changes to other paths ignored" in lint["formatted"]
    tree_before = tmp_path / "repo"
    subprocess.run(["git", "-C", str(tree_before), "apply", "--check", str(out / "patch.diff")], check=True)


def test_a_failing_formatter_is_a_note_not_a_failure(tmp_path: Path) -> None:
    report, _box, out = run(tmp_path, UGLY_FIX, format_command="fmt --quiet", code=2)
    assert report.success  # the unformatted fix is tested and kept
    assert "+    return a+b" in (out / "patch.diff").read_text()
    note = _lint(out)["formatted"]
    assert note.startswith("format_command failed (exit 2)") and "cannot format calc/ops.py" in note


def test_an_unreadable_command_and_no_command(tmp_path: Path) -> None:
    report, box, out = run(tmp_path / "quote", UGLY_FIX, format_command="fmt 'unclosed")
    assert report.success and "could not be read" in _lint(out)["formatted"]
    assert not any(argv[0] == "fmt" for argv in box.commands)
    report, box, out = run(tmp_path / "none", UGLY_FIX, format_command=None)
    assert report.success and "formatted" not in _lint(out)
    assert not any(argv[0] == "fmt" for argv in box.commands)


def test_a_formatter_that_reverts_the_whole_change_leaves_an_empty_patch(tmp_path: Path) -> None:
    cosmetic = "Squeeze it.\n\n" + fx.block("calc/ops.py", "    return a + b\n", "    return a+b\n")

    def undo(argv: tuple[str, ...], tree: Path) -> tuple[int, str, str]:
        path = tree / argv[-1]
        path.write_text(path.read_text().replace("a+b", "a + b"))
        return 0, "", ""

    repo = make_git_repo(tmp_path / "repo", {**fx.FILES, "calc/ops.py": fx.OPS.replace("a - b", "a + b")})
    box = FakeSandbox(script=undo, isolated=True)
    request = SolveRequest(
        str(repo), fx.ISSUE, tmp_path / "run", max_attempts=1, config=RepoConfig(format_command="fmt")
    )
    report = solve(request, model=ScriptedModel([cosmetic]), sandbox=box)
    [attempt] = report.attempts
    assert attempt.category.value == "empty-patch" and attempt.diff == "" and attempt.changed == []
    assert box.commands == [("fmt", "calc/ops.py")]  # no test ran


@pytest.mark.docker
def test_the_formatter_runs_in_the_real_sandbox(docker_client: Any, tmp_path: Path) -> None:
    """The py3.11 sandbox has no ruff or black: a ``python -c`` rewrite stands in for the formatter."""
    from repomind.pipeline.llm import LiteLLMModel
    from repomind.sandbox import DockerSandbox
    from repomind.testing import StandInLLMServer

    rewrite = (
        "import sys, pathlib; P = pathlib.Path; "
        "[P(p).write_text(P(p).read_text().replace('a+b', 'a + b')) for p in sys.argv[1:]]; "
        "P('stray.txt').write_text('x')"
    )
    config = f'format_command: python -c "{rewrite}"\n'
    repo = make_git_repo(tmp_path / "repo", {**fx.FILES, ".github/repomind.yml": config})
    out = tmp_path / "run"
    with StandInLLMServer([UGLY_FIX]) as server:
        model = LiteLLMModel("openai/stand-in", api_base=server.url, timeout_s=30)
        request = SolveRequest(str(repo), fx.ISSUE, out, max_attempts=1)
        report = solve(request, model=model, sandbox=DockerSandbox(docker_client))
    assert report.success and report.verified, report.message
    patch = (out / "patch.diff").read_text()
    assert "+    return a + b" in patch and "stray.txt" not in patch
    lint = _lint(out)
    assert lint["formatted"].startswith("format_command reformatted 1 file(s): calc/ops.py"), lint
    assert json.loads((out / "report.json").read_text())["success"] is True

"""The toolchain seam: choosing a repository's toolchain, and the real solve pipeline run with a
toolchain that is not Python (the shell-script fake), so that nothing Python-specific is hard-wired."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from repomind.errors import UnsupportedRepository, UsageError
from repomind.pipeline.solve import Category, SolveRequest, solve
from repomind.pipeline.toolchain import TOOLCHAINS, Toolchain, by_name, toolchain_for
from repomind.pipeline.toolchain.python import PythonToolchain
from repomind.repoconfig import RepoConfig, parse
from repomind.testing import FakeSandbox, FakeToolchain, ScriptedModel, make_git_repo
from repomind.testing.toolchain import RUNNER

# -- choosing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "files",
    [
        {"pyproject.toml": "[project]\nname = 'x'\n"},
        {"requirements.txt": "requests\n", "README.md": "hello\n"},
        {"src/pkg/mod.py": "x = 1\n", "README.md": "hello\n"},
    ],
)
def test_a_python_repository_gets_the_python_toolchain(tmp_path: Path, files: dict[str, str]) -> None:
    repo = make_git_repo(tmp_path / "r", files)
    chosen = toolchain_for(repo, RepoConfig())
    assert isinstance(chosen, PythonToolchain) and chosen.name == "python"
    assert chosen.facts.fence == "python" and chosen.facts.test_framework == "pytest"


def test_a_repository_without_a_known_language_is_refused_with_what_to_do(tmp_path: Path) -> None:
    repo = make_git_repo(tmp_path / "r", {"main.go": "package main\n", "README.md": "hi\n"})
    with pytest.raises(UnsupportedRepository, match=r"no supported language.*python.*language:") as err:
        toolchain_for(repo, RepoConfig())
    assert isinstance(err.value, UsageError) and err.value.exit_code == 2


def test_the_configured_language_wins_over_detection(tmp_path: Path) -> None:
    repo = make_git_repo(tmp_path / "r", {"main.go": "package main\n"})
    assert toolchain_for(repo, parse("language: Python\n")).name == "python"
    with pytest.raises(UnsupportedRepository, match=r"language: go is not one .*supported: python"):
        toolchain_for(repo, parse("language: go\n"))
    shell = FakeToolchain()
    both: tuple[Toolchain, ...] = (*TOOLCHAINS, shell)
    # a repository with Python sources that says it is a shell repository is one
    py_repo = make_git_repo(tmp_path / "p", {"a.py": "", RUNNER: "true\n"})
    assert toolchain_for(py_repo, RepoConfig(), both).name == "python"
    assert toolchain_for(py_repo, parse("language: shell\n"), both) is shell
    assert by_name("SHELL", both) is shell


def test_the_language_key_is_validated() -> None:
    from repomind.errors import ConfigError

    assert parse("language: python\n").language == "python"
    with pytest.raises(ConfigError, match="language"):
        parse("language: 'rm -rf /'\n")


def test_solve_stops_before_any_model_call_on_an_unsupported_repository(tmp_path: Path) -> None:
    repo = make_git_repo(tmp_path / "r", {"main.go": "package main\n"})
    model = ScriptedModel([])
    box = FakeSandbox()
    request = SolveRequest(repo=str(repo), issue_text="main is broken", out_dir=tmp_path / "out")
    with pytest.raises(UnsupportedRepository):
        solve(request, model=model, sandbox=box)
    assert model.conversations == [] and box.prepared == [] and box.commands == []


# -- the seam: a shell-script repository through the real pipeline ---------------------------------

RUN_TESTS = r"""#!/bin/sh
# sh run_tests.sh [tests/FILE.sh | tests/FILE.sh::NAME ...]: one PASS or FAIL line per test
. ./lib/calc.sh
[ $# -eq 0 ] && set -- tests/test_*.sh
status=0
for arg in "$@"; do
  file=${arg%%::*}
  only=""
  case "$arg" in *::*) only=${arg#*::} ;; esac
  . "./$file"
  for t in $(sed -n 's/^\(test_[a-z_]*\)().*/\1/p' "$file"); do
    if [ -n "$only" ] && [ "$t" != "$only" ]; then continue; fi
    if ( "$t" ) >/dev/null 2>&1; then echo "PASS $file::$t"; else echo "FAIL $file::$t"; status=1; fi
  done
done
exit $status
"""
CALC = "add() { echo $(($1 - $2)); }\nsub() { echo $(($1 - $2)); }\n"
SHELL_REPO = {
    RUNNER: RUN_TESTS,
    "lib/calc.sh": CALC,
    "tests/test_calc.sh": 'test_add() { [ "$(add 2 3)" = 5 ]; }\ntest_sub() { [ "$(sub 5 3)" = 2 ]; }\n',
    "README.md": "A calculator in shell.\n",
}
ISSUE = "add gives -1 for 2 and 3 instead of 5: test_add fails"


def _block(search: str, replace: str) -> str:
    return f"lib/calc.sh\n```sh\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n```\n"


UNBALANCED = "Guard it.\n\n" + _block(
    "add() { echo $(($1 - $2)); }\n", "add() {\n  if true; then\n    echo $(($1 + $2))\n}\n"
)
FIX = "A plus, not a minus.\n\n" + _block("add() { echo $(($1 - $2)); }\n", "add() { echo $(($1 + $2)); }\n")


def run_in_tree(argv: tuple[str, ...], tree: Path) -> tuple[int, str, str]:
    """The FakeSandbox's script: the shell runner run on the host in the work tree."""
    proc = subprocess.run(
        list(argv),
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_a_non_python_toolchain_drives_lint_tests_and_verdicts_through_the_real_pipeline(
    tmp_path: Path,
) -> None:
    repo = make_git_repo(tmp_path / "repo", SHELL_REPO)
    shell = FakeToolchain()
    assert toolchain_for(repo, RepoConfig(), (*TOOLCHAINS, shell)) is shell  # detected by its runner
    model = ScriptedModel([UNBALANCED, FIX])
    box = FakeSandbox(script=run_in_tree)
    out = tmp_path / "out"
    request = SolveRequest(repo=str(repo), issue_text=ISSUE, out_dir=out)

    report = solve(request, model=model, sandbox=box, toolchain=shell)

    assert report.success and report.verified, report.message
    first, second = report.attempts
    # lint is the toolchain's: the first attempt's unbalanced `if` never reaches the tests
    assert first.category is Category.SYNTAX_ERROR and "without its `fi`" in first.evidence
    assert shell.linted == [("lib/calc.sh",), ("lib/calc.sh",)]
    # the tests, their runner and the outcomes are the toolchain's; nothing ran pytest or python
    assert second.category is Category.PASSED
    tests = json.loads((out / "attempt-2" / "tests.json").read_text())
    assert tests["plan"]["files"] == ["tests/test_calc.sh"]
    assert tests["before"]["results"] == {
        "tests/test_calc.sh::test_add": "failed",
        "tests/test_calc.sh::test_sub": "passed",
    }
    assert tests["after"]["source"] == "pass-fail-lines"
    assert tests["verdict"]["fail_to_pass"] == ["tests/test_calc.sh::test_add"]
    assert tests["verdict"]["pass_to_pass"] == ["tests/test_calc.sh::test_sub"]
    assert box.commands and all(argv[:2] == ("sh", RUNNER) for argv in box.commands)
    assert not any("python" in a or "pytest" in a for argv in box.commands for a in argv)
    # the rerun on the unpatched code names the one test tied to the issue
    assert ("sh", RUNNER, "tests/test_calc.sh::test_add") in box.commands
    # the environment and the prompt are the toolchain's too
    assert box.prepared[0].setup_command == ": nothing to install"
    system = model.conversations[0][0]["content"]
    assert "```sh\n<<<<<<< SEARCH" in system and "tests/test_<module>.sh" in system
    assert "```python" not in system and ".py" not in system
    start = json.loads((out / "trajectory.jsonl").read_text().splitlines()[0])
    assert start["type"] == "run-start" and start["toolchain"] == "shell"

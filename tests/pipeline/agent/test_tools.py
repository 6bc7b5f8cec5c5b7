"""The agent's tools on real git work trees: search, view, edit (with lint) and run_tests, including the
hostile inputs a model that read a hostile issue may send."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from repomind.pipeline.agent.tools import OBSERVATION_CHARS, Observation, ToolBox
from repomind.pipeline.issue import Mentions
from repomind.pipeline.llm import Budget
from repomind.pipeline.solve.attempt import AttemptContext
from repomind.pipeline.solve.events import RunEvents
from repomind.pipeline.solve.workspace import Workspace
from repomind.pipeline.toolchain.protocol import Toolchain
from repomind.pipeline.toolchain.python import PythonToolchain
from repomind.sandbox.protocol import Sandbox
from repomind.sandbox.types import EnvironmentSpec
from repomind.testing import FakeSandbox, FakeToolchain, ScriptedModel, git, make_git_repo

BILLING = '''"""Billing."""

import math


class Invoice:
    """An invoice."""

    def __init__(self, lines):
        self.lines = lines

    def compute_total(self):
        return sum(self.lines)


def rounded(value):
    return math.floor(value)


def legacy():
    return missing_helper()
'''

FILES = {
    "pkg/__init__.py": "",
    "pkg/billing.py": BILLING,
    "pkg/twice.py": "def a():\n    return 1\n\n\ndef b():\n    return 1\n",
    "pkg/notes.txt": "compute_total is documented here\n",
    "docs/guide.md": "Call compute_total() on an invoice.\n",
    "setup.py": "from setuptools import setup\nsetup()\n",
    "many.txt": "".join(f"needle {i}\n" for i in range(250)),
    "web/app.js": (
        "export class App {\n  render() {\n    return 1;\n  }\n}\n\nfunction main() {\n  return 2;\n}\n"
    ),
}


def toolbox(
    tmp_path: Path,
    files: Mapping[str, str] = FILES,
    *,
    toolchain: Toolchain | None = None,
    sandbox: Sandbox | None = None,
    shown: set[str] | None = None,
    links: Mapping[str, str] | None = None,
) -> ToolBox:
    """A ToolBox on the agent's work tree of a fresh repository (``links``: committed symlinks)."""
    repo = make_git_repo(tmp_path / "repo", files)
    for name, target in (links or {}).items():
        os.symlink(target, repo / name)
    if links:
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "links")
    workspace = Workspace.create(str(repo), None, tmp_path / "work")
    tree = workspace.work_tree("agent")
    box = sandbox or FakeSandbox()
    env = box.prepare(tree, EnvironmentSpec("repo"))
    ctx = AttemptContext(
        ScriptedModel([]),
        box,
        env,
        workspace,
        RunEvents(),
        Budget(),
        Mentions(),
        None,
        toolchain or PythonToolchain(),
    )
    return ToolBox(ctx, tree, shown=set() if shown is None else shown)


LEAKS = {"leak.py": "/etc/passwd", "etc": "/etc"}


# -- search ------------------------------------------------------------------------------------------


def test_search_finds_contents_and_file_names(tmp_path: Path) -> None:
    tools = toolbox(tmp_path)
    obs = tools.search(r"compute_\w+")
    assert obs.ok and obs.outcome == "3 matches"
    assert "pkg/billing.py:12:     def compute_total(self):" in obs.text
    assert "docs/guide.md:1: Call compute_total() on an invoice." in obs.text
    names = tools.search(r"billing\.py$")
    assert names.outcome == "0 matches, 1 file name" and names.data["names"] == ["pkg/billing.py"]
    assert "No lines in file contents match." in names.text


def test_search_path_glob_narrows_contents_and_names(tmp_path: Path) -> None:
    tools = toolbox(tmp_path)
    obs = tools.search("compute_total", "pkg/**/*.py")
    assert obs.outcome == "1 match" and obs.data["files"] == ["pkg/billing.py"]
    assert "docs/guide.md" not in obs.text and "notes.txt" not in obs.text
    assert tools.search("app", "web/*.js").data["names"] == ["web/app.js"]
    assert tools.search("app", "pkg/*").outcome == "no matches"


def test_search_keeps_the_first_hundred_and_counts_the_rest(tmp_path: Path) -> None:
    obs = toolbox(tmp_path).search(r"^needle \d+$")
    assert obs.outcome == "250 matches"
    assert "250 lines in file contents match (the first 100 shown, 150 left out):" in obs.text
    assert "many.txt:100: needle 99" in obs.text and "needle 100\n" not in obs.text
    assert len(obs.text) <= OBSERVATION_CHARS


def test_search_finds_files_the_agent_created(tmp_path: Path) -> None:
    tools = toolbox(tmp_path)
    assert tools.edit("pkg/fresh.py", "", "def brand_new_name():\n    pass\n").ok
    assert "pkg/fresh.py:1: def brand_new_name():" in tools.search("brand_new_name").text


def test_a_bad_regex_or_glob_is_an_observation(tmp_path: Path) -> None:
    tools = toolbox(tmp_path)
    bad = tools.search("compute_(total")
    assert not bad.ok and bad.outcome == "refused: bad regex"
    assert "compute_(total" in bad.text and "failed" in bad.text
    for glob in ("../*", "/etc/*", ":(exclude)pkg"):
        assert tools.search("x", glob).outcome == "refused: bad glob"
    assert tools.search("").outcome == "refused: bad regex"
    assert tools.search("a\0b").outcome == "refused: bad regex"


def test_search_input_is_never_read_as_an_option(tmp_path: Path) -> None:
    tools = toolbox(tmp_path, {**FILES, "flags.txt": "--files-with-matches\n-O/bin/sh\n"})
    obs = tools.search("--files-with-matches")
    assert obs.ok and "flags.txt:1: --files-with-matches" in obs.text
    assert tools.search("-O/bin/sh").data["files"] == ["flags.txt"]
    assert tools.search("needle 1", "--no-index").outcome == "no matches"


def test_search_runs_out_of_time_as_an_observation(tmp_path: Path) -> None:
    tools = toolbox(tmp_path)
    tools._grep.timeout_s = 0.001  # the clock is the only thing changed: git is killed
    obs = tools.search("needle")
    assert not obs.ok and obs.outcome == "timed out" and "ran past" in obs.text


def test_search_never_reads_through_a_symlink(tmp_path: Path) -> None:
    tools = toolbox(tmp_path, links=LEAKS)
    for regex in ("root:", "nologin", "bash"):
        obs = tools.search(regex)
        assert "leak.py:" not in obs.text and "etc/passwd:" not in obs.text, obs.text
    assert tools.search("root:").outcome == "no matches"


# -- view --------------------------------------------------------------------------------------------


def test_view_shows_the_outline_and_a_numbered_window_and_marks_the_file_shown(tmp_path: Path) -> None:
    tools = toolbox(tmp_path)
    obs = tools.view("./pkg/billing.py", line=12, before=1, after=1)
    assert obs.ok and obs.outcome == "lines 11-13"
    assert "pkg/billing.py (21 lines)" in obs.text
    outline = obs.text.split("Lines 11-13:")[0]
    assert " 6: class Invoice:" in outline and " 9:     def __init__(self, lines):" in outline
    assert "16: def rounded(value):" in outline
    assert "11: \n12:     def compute_total(self):\n13:         return sum(self.lines)" in obs.text
    assert "(8 more lines: view line 14 for the next ones)" in obs.text
    assert tools.shown == {"pkg/billing.py"}


def test_view_clamps_the_window_and_outlines_other_languages(tmp_path: Path) -> None:
    tools = toolbox(tmp_path)
    obs = tools.view("web/app.js", line=500, before=3)
    assert obs.outcome == "lines 6-9"
    assert "1: export class App {" in obs.text and "2:     render() {" in obs.text
    assert "7: function main() {" in obs.text
    assert tools.view("pkg/billing.py", line="3", after="1").outcome == "lines 3-4"  # type: ignore[arg-type]


def test_a_file_that_does_not_parse_is_still_outlined(tmp_path: Path) -> None:
    broken = "class Half:\n    def ok(self):\n        return (\n\ndef after():\n    pass\n"
    assert toolbox(tmp_path, {"half.py": broken}).outline("half.py").splitlines() == [
        "1: class Half:",
        "2:     def ok(self):",
        "5: def after():",
    ]


@pytest.mark.parametrize(
    ("path", "outcome"),
    [
        ("pkg/nothing.py", "not found"),
        ("../repo/setup.py", "refused: outside the tree"),
        ("/etc/passwd", "refused: outside the tree"),
        (".git/config", "refused: outside the tree"),
        ("leak.py", "refused: not a regular file"),
        ("etc/passwd", "refused: not a regular file"),
    ],
)
def test_view_refuses_what_is_not_a_file_of_the_tree(tmp_path: Path, path: str, outcome: str) -> None:
    tools = toolbox(tmp_path, links=LEAKS)
    obs = tools.view(path)
    assert not obs.ok and obs.outcome == outcome
    assert "root:" not in obs.text and tools.shown == set()
    assert tools.outline(path) == ""


def test_view_of_a_directory_lists_it(tmp_path: Path) -> None:
    obs = toolbox(tmp_path).view("pkg")
    assert not obs.ok and obs.outcome == "directory"
    assert "__init__.py, billing.py, notes.txt, twice.py" in obs.text


# -- edit --------------------------------------------------------------------------------------------


def test_an_edit_is_applied_and_its_changed_lines_are_shown_numbered(tmp_path: Path) -> None:
    tools = toolbox(tmp_path, shown={"pkg/billing.py"})
    new = "        total = sum(self.lines)\n        return total\n"
    obs = tools.edit("pkg/billing.py", "        return sum(self.lines)\n", new)
    assert obs.ok and obs.outcome == "applied", obs.text
    assert "Applied to pkg/billing.py: lines 13-14 are new (22 lines now)." in obs.text
    shown = "12:     def compute_total(self):\n13:         total = sum(self.lines)\n14:         return total"
    assert shown in obs.text
    assert obs.data == {"changed": "pkg/billing.py", "created": False, "problems": []}
    assert "return total" in (tools.tree / "pkg/billing.py").read_text()


def test_an_edit_that_does_not_match_or_is_ambiguous_changes_nothing(tmp_path: Path) -> None:
    tools = toolbox(tmp_path, shown={"pkg/billing.py"})
    missing = tools.edit("pkg/billing.py", "return product(self.lines)\n", "return 0\n")
    assert not missing.ok and missing.outcome == "not applied: no match"
    assert "copy the `search` text exactly" in missing.text
    assert (tools.tree / "pkg/billing.py").read_text() == BILLING
    assert tools.view("pkg/twice.py").ok
    twice = tools.edit("pkg/twice.py", "    return 1\n", "    return 2\n")
    assert not twice.ok and twice.outcome == "not applied: ambiguous" and "2 matches" in twice.text
    assert (tools.tree / "pkg/twice.py").read_text() == FILES["pkg/twice.py"]


def test_an_edit_to_a_protected_path_is_refused(tmp_path: Path) -> None:
    tools = toolbox(tmp_path, shown={"setup.py"})
    obs = tools.edit("setup.py", "setup()\n", "setup(name='x')\n")
    assert not obs.ok and obs.outcome == "refused: protected path"
    assert "`setup.py` is a protected path" in obs.text and "protected_paths" in obs.text
    assert (tools.tree / "setup.py").read_text().endswith("setup()\n")
    assert tools.edit(".github/workflows/ci.yml", "", "on: push\n").outcome == "refused: protected path"


def test_an_edit_to_a_file_not_shown_yet_is_refused_until_it_is_viewed(tmp_path: Path) -> None:
    tools = toolbox(tmp_path)
    search, replace = "    return math.floor(value)\n", "    return round(value)\n"
    obs = tools.edit("pkg/billing.py", search, replace)
    assert not obs.ok and obs.outcome == "refused: not shown yet" and "View it first" in obs.text
    assert (tools.tree / "pkg/billing.py").read_text() == BILLING
    assert tools.view("pkg/billing.py", line=17).ok
    assert tools.edit("pkg/billing.py", search, replace).ok


def test_an_empty_search_creates_a_new_file_which_counts_as_shown(tmp_path: Path) -> None:
    tools = toolbox(tmp_path)
    obs = tools.edit("pkg/tax.py", "", "RATE = 0.2\n")
    assert obs.ok and obs.data["created"] is True
    assert "Created pkg/tax.py: lines 1-1 are new (1 lines now)." in obs.text and "1: RATE = 0.2" in obs.text
    assert "pkg/tax.py" in tools.shown
    assert tools.edit("pkg/tax.py", "RATE = 0.2\n", "RATE = 0.25\n").ok
    # an empty search on an existing file is no way around `view`
    assert tools.edit("pkg/notes.txt", "", "replaced\n").outcome == "refused: not shown yet"


def test_an_edit_reports_the_lint_problems_it_introduced_and_not_the_old_ones(tmp_path: Path) -> None:
    tools = toolbox(tmp_path, shown={"pkg/billing.py"})
    obs = tools.edit("pkg/billing.py", "    return math.floor(value)\n", "    return math.floor(valu)\n")
    assert obs.ok and obs.outcome == "applied, 1 new problem(s)"
    assert obs.data["problems"] == ["pkg/billing.py:17: undefined-name: undefined name 'valu'"]
    assert "fix them:\npkg/billing.py:17: undefined-name: undefined name 'valu'" in obs.text
    assert "missing_helper" not in obs.text  # undefined before the edit: not the edit's doing
    fixed = tools.edit("pkg/billing.py", "    return math.floor(valu)\n", "    return math.floor(value)\n")
    assert fixed.outcome == "applied" and fixed.data["problems"] == []
    broken = tools.edit("pkg/billing.py", "def rounded(value):\n", "def rounded(value:\n")
    assert broken.outcome == "applied, 1 new problem(s)" and ": syntax: " in broken.text


def test_an_edit_through_a_symlink_is_refused(tmp_path: Path) -> None:
    tools = toolbox(tmp_path, links=LEAKS, shown={"leak.py", "etc/passwd"})
    for path in ("leak.py", "etc/passwd"):
        obs = tools.edit(path, "root", "toor")
        assert not obs.ok and obs.outcome.startswith("not applied") and "root:" not in obs.text
    assert tools.edit("../outside.py", "", "x = 1\n").outcome == "refused: outside the tree"
    assert not (tmp_path / "work" / "outside.py").exists()


# -- run_tests ---------------------------------------------------------------------------------------

RUNNER = r"""#!/bin/sh
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
SHELL = {
    "run_tests.sh": RUNNER,
    "lib/calc.sh": "add() { echo $(($1 - $2)); }\nsub() { echo $(($1 - $2)); }\n",
    "lib/text.sh": "upper() { echo hi; }\n",
    "tests/test_calc.sh": 'test_add() { [ "$(add 2 3)" = 5 ]; }\ntest_sub() { [ "$(sub 5 3)" = 2 ]; }\n',
    "tests/test_text.sh": 'test_upper() { [ "$(upper)" = hi ]; }\n',
}


def run_in_tree(argv: tuple[str, ...], tree: Path) -> tuple[int, str, str]:
    """The FakeSandbox's script: the shell runner run on the host in the work tree."""
    proc = subprocess.run(
        list(argv), cwd=tree, capture_output=True, text=True, timeout=60, check=False, env={"PATH": "/bin"}
    )
    return proc.returncode, proc.stdout, proc.stderr


def shell_tools(tmp_path: Path) -> tuple[ToolBox, FakeSandbox]:
    box = FakeSandbox(script=run_in_tree)
    return toolbox(tmp_path, SHELL, toolchain=FakeToolchain(), sandbox=box, shown={"lib/calc.sh"}), box


def test_run_tests_runs_the_targets_on_the_current_tree(tmp_path: Path) -> None:
    tools, box = shell_tools(tmp_path)
    obs = tools.run_tests(["tests/test_calc.sh"])
    assert obs.ok and obs.outcome == "1 failed, 1 passed"
    assert box.commands[-1] == ("sh", "run_tests.sh", "tests/test_calc.sh")
    failed_at, passed_at = obs.text.index("FAILED tests/test_calc.sh::test_add"), obs.text.index("Passed (1)")
    assert failed_at < passed_at and "Passed (1): tests/test_calc.sh::test_sub" in obs.text
    add, sub = "tests/test_calc.sh::test_add", "tests/test_calc.sh::test_sub"
    assert obs.data["results"] == {add: "failed", sub: "passed"}
    assert tools.edit("lib/calc.sh", "add() { echo $(($1 - $2)); }\n", "add() { echo $(($1 + $2)); }\n").ok
    assert tools.run_tests(["tests/test_calc.sh::test_add"]).outcome == "1 passed"  # the edited tree


def test_run_tests_without_targets_runs_the_planned_tests(tmp_path: Path) -> None:
    tools, box = shell_tools(tmp_path)
    assert tools.edit("lib/calc.sh", "add() { echo $(($1 - $2)); }\n", "add() { echo $(($1 + $2)); }\n").ok
    obs = tools.run_tests()
    assert box.commands[-1] == ("sh", "run_tests.sh", "tests/test_calc.sh")  # the test related to the change
    assert obs.outcome == "2 passed" and "tests related to the change" in obs.text


@pytest.mark.parametrize("target", ["-x", "--collect-only", " -k", "@args.txt", "../../etc", "a\nb", ""])
def test_run_tests_refuses_targets_that_are_not_tests(tmp_path: Path, target: str) -> None:
    tools, box = shell_tools(tmp_path)
    ran = len(box.commands)
    obs = tools.run_tests(["tests/test_calc.sh", target])
    assert not obs.ok and obs.outcome == "refused: bad target"
    assert len(box.commands) == ran


def test_run_tests_takes_a_single_target_as_a_list_of_one(tmp_path: Path) -> None:
    tools, box = shell_tools(tmp_path)
    assert tools.run_tests("tests/test_text.sh").outcome == "1 failed"  # type: ignore[arg-type]
    assert box.commands[-1] == ("sh", "run_tests.sh", "tests/test_text.sh")
    assert tools.run_tests({"a": 1}).outcome == "refused: bad target"  # type: ignore[arg-type]


def test_the_failing_output_is_trimmed(tmp_path: Path) -> None:
    noise = "".join(f"FAIL tests/test_calc.sh::test_add detail line {i} {'x' * 80}\n" for i in range(500))

    def script(argv: tuple[str, ...], tree: Path) -> tuple[int, str, str]:
        return 1, noise + "FAIL tests/test_calc.sh::test_add\nPASS tests/test_calc.sh::test_sub\n", ""

    box = FakeSandbox(script=script)
    tools = toolbox(tmp_path, SHELL, toolchain=FakeToolchain(), sandbox=box)
    obs = tools.run_tests(["tests/test_calc.sh"])
    assert obs.outcome == "1 failed, 1 passed"
    assert len(obs.text) < 6000 and "characters left out" in obs.text
    assert "detail line 0 " in obs.text and "detail line 499 " in obs.text  # its start and its end


def test_observations_are_frozen_records() -> None:
    obs = Observation("text", "done")
    assert obs.ok and obs.data == {}
    with pytest.raises(AttributeError):
        obs.text = "other"  # type: ignore[misc]

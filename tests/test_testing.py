"""The fakes in ``repomind.testing`` behave like the real boundaries they stand for."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import repomind
import repomind.testing
from repomind.sandbox import EnvironmentSpec, Outcome, Sandbox
from repomind.testing import FakeSandbox

#: The fakes the README and the module docstring name: each must be importable from ``repomind.testing``.
DOCUMENTED = {
    "FakeGitHub",
    "FakeGitHubFactory",
    "FakePipeline",
    "FakeQueue",
    "FakeSandbox",
    "FakeToolchain",
    "GitHubState",
    "HashingEmbedder",
    "ScriptedHTTPError",
    "ScriptedModel",
    "StandInGitHub",
    "StandInLLMServer",
    "git",
    "make_git_repo",
}


def _all_assignments(path: Path) -> int:
    tree = ast.parse(path.read_text())
    targets = [
        t
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign)
        for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
    ]
    return sum(1 for t in targets if isinstance(t, ast.Name) and t.id == "__all__")


def test_testing_package_has_one_all_that_exports_every_fake() -> None:
    exported = repomind.testing.__all__
    assert len(exported) == len(set(exported)) and set(exported) >= DOCUMENTED
    namespace: dict[str, Any] = {}
    exec("from repomind.testing import *", namespace)
    assert set(exported) == set(namespace) - {"__builtins__"}
    root = Path(repomind.testing.__file__).parent
    counts = {p.relative_to(root).as_posix(): _all_assignments(p) for p in sorted(root.rglob("*.py"))}
    assert counts.pop("__init__.py") == 1 and not any(counts.values()), counts
    # every fake class of a boundary the package re-exports is in that one list (none hidden)
    for info in pkgutil.walk_packages(repomind.testing.__path__, "repomind.testing."):
        if info.name == "repomind.testing.training":  # imported by its own path (no training code)
            continue
        module = importlib.import_module(info.name)
        fakes = {
            name
            for name, value in vars(module).items()
            if isinstance(value, type)
            and value.__module__ == info.name
            and name.startswith(("Fake", "Scripted", "StandIn"))
        }
        assert fakes <= set(exported), (info.name, fakes - set(exported))


def test_testing_package_holds_no_service_launchers_and_imports_no_training_code() -> None:
    names = {m.name for m in pkgutil.walk_packages(repomind.__path__, "repomind.")}
    assert not {n for n in names if n.startswith("repomind.testing_")}
    assert not any("services" in n for n in names if n.startswith("repomind.testing"))
    code = (
        "import sys, repomind.testing\n"
        "print(sorted(m for m in sys.modules if m.startswith('repomind.training')))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "[]"


def test_fake_sandbox_scripts_commands_and_reports_diffs(make_repo: Any) -> None:
    repo = make_repo({"a.txt": "one\n"})

    def script(argv: tuple[str, ...], tree: Path) -> tuple[int, str, str]:
        (tree / "a.txt").write_text("two\n")
        return (1, "", "boom") if "fail" in argv else (0, "fine", "")

    box: Sandbox = FakeSandbox(script=script)
    env = box.prepare(repo, EnvironmentSpec("o/r"))
    assert not env.cached and box.prepare(repo, EnvironmentSpec("o/r")).cached
    ok = box.run(env, repo, "pytest")
    assert ok.outcome is Outcome.OK and ok.stdout == "fine"
    assert ok.diff is not None and "+two" in ok.diff
    bad = box.run(env, repo, ["fail"])
    assert bad.outcome is Outcome.FAILED and bad.exit_code == 1
    assert isinstance(box, FakeSandbox) and box.commands == [("bash", "-c", "pytest"), ("fail",)]


def test_an_isolated_fake_sandbox_runs_on_a_copy_and_returns_what_the_command_changed(make_repo: Any) -> None:
    repo = make_repo({"a.txt": "one\n", "b.txt": "same\n"})
    (repo / "a.txt").write_text("patched\n")  # the attempt's own change, not the command's

    def script(argv: tuple[str, ...], tree: Path) -> tuple[int, str, str]:
        (tree / "b.txt").write_text("changed by the command\n")
        return 0, "", ""

    box = FakeSandbox(script=script, isolated=True)
    env = box.prepare(repo, EnvironmentSpec("o/r"))
    res = box.run(env, repo, ["fmt"])
    assert res.diff is not None and "+changed by the command" in res.diff and "a.txt" not in res.diff
    assert (repo / "b.txt").read_text() == "same\n"  # the work tree is untouched

"""The fakes in ``repomind.testing`` behave like the real boundaries they stand for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from repomind.sandbox import EnvironmentSpec, Outcome, Sandbox
from repomind.testing import FakeSandbox


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

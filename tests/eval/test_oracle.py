"""The oracle agent model (`repomind.eval.oracle`): fed the observations of a small stand-in for the agent's
tools over a real git repository, it reproduces a multi-hunk, multi-file gold patch with search → view →
edit per hunk, then run_tests and submit; a hunk whose old lines are ambiguous falls back to a wider window;
it answers statelessly from the conversation, in the text protocol when no tools are offered, and as an
approving reviewer."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from repomind.eval.oracle import OracleAgentModel, hunks_of, numbered_lines, regex_literal
from repomind.pipeline.edits import Edit, EditApplyError, apply_edits
from repomind.pipeline.llm import Message
from repomind.sandbox.hostenv import git_env
from repomind.testing import make_git_repo

TOOLS: list[dict[str, Any]] = [
    {"type": "function", "function": {"name": n}} for n in ("search", "view", "edit")
]

BLOCK = (
    "    total = 0\n    count = 0\n    for x in xs:\n        count += 1\n        total += x\n"
    "        check(total)\n    log(count)\n    return total\n"
)
FILES = {
    "calc/ops.py": (
        "def first(xs):\n"
        + BLOCK
        + "".join(f"# filler {i}\n" for i in range(30))
        + "def second(xs):\n"
        + BLOCK
        + "".join(f"# more {i}\n" for i in range(10))
        + "\n\ndef scale(x, k):\n    return x * k\n"
    ),
    "calc/__init__.py": "from calc.ops import first, second, scale\n",
}


def _gold(tmp_path: Path) -> tuple[Path, str, dict[str, str]]:
    """A repository, a gold patch of three files' changes (the first hunk ambiguous by its context alone),
    and the files the patch produces."""
    repo = make_git_repo(tmp_path / "repo", FILES)
    patched = FILES["calc/ops.py"].replace(
        "def second(xs):\n" + BLOCK, "def second(xs):\n" + BLOCK.replace("+= x", "+= 2 * x")
    )
    patched = patched.replace("return x * k", "return x * k if k else 0")
    (repo / "calc/ops.py").write_text(patched)
    (repo / "calc/__init__.py").write_text("from calc.ops import first, second, scale\n__all__ = ['scale']\n")
    (repo / "calc/new.py").write_text("VALUE = 1\n")
    env = git_env()
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=env)
    diff = subprocess.run(
        ["git", "diff", "--cached"], cwd=repo, check=True, capture_output=True, text=True, env=env
    ).stdout
    expected = {p: (repo / p).read_text() for p in ("calc/ops.py", "calc/__init__.py", "calc/new.py")}
    subprocess.run(["git", "reset", "-q", "--hard"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "clean", "-qfd"], cwd=repo, check=True, env=env)
    return repo, diff, expected


class Tools:
    """A stand-in for the agent's tools over a work tree: `path:line: text` search results, numbered
    views, edits through the real applier."""

    def __init__(self, tree: Path) -> None:
        self.tree = tree

    def search(self, regex: str, path_glob: str | None = None) -> str:
        out = []
        for path in sorted(p for p in self.tree.rglob("*.py") if ".git" not in p.parts):
            rel = path.relative_to(self.tree).as_posix()
            if path_glob and rel != path_glob:
                continue
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if re.search(regex, line):
                    out.append(f"{rel}:{n}: {line}")
        return "\n".join(out) or "no matches"

    def view(self, path: str, line: int = 1, before: int = 0, after: int = 100) -> str:
        lines = (self.tree / path).read_text().splitlines()
        lo, hi = max(1, line - before), min(len(lines), line + after)
        outline = "Outline (definitions and their line numbers):\n 1: def first(xs):\n 2: def second(xs):\n"
        numbered = "\n".join(f"{n:>3}: {lines[n - 1]}" for n in range(lo, hi + 1))
        return f"{path} ({len(lines)} lines)\n{outline}\nLines {lo}-{hi}:\n{numbered}"

    def edit(self, path: str, search: str, replace: str) -> str:
        try:
            apply_edits(self.tree, [Edit(path, search, replace)])
        except EditApplyError as exc:
            return f"not applied: {exc.reason}"
        return f"applied to {path}"

    def run_tests(self, targets: list[str] | None = None) -> str:
        return "3 passed"


def _drive(model: OracleAgentModel, tools: Tools, *, native: bool = True) -> list[tuple[str, dict[str, Any]]]:
    """The agent loop in miniature: ask, run the action, answer with its observation, until submit."""
    messages: list[Message] = [{"role": "system", "content": "fix it"}, {"role": "user", "content": "issue"}]
    taken: list[tuple[str, dict[str, Any]]] = []
    for _ in range(40):
        reply = model.complete(list(messages), tools=TOOLS if native else None)
        assert reply.cost_usd == 0.0 and reply.prompt_tokens > 0
        if native:
            (call,) = reply.tool_calls
            name, args = call.name, json.loads(call.arguments)
            messages.append({"role": "assistant", "content": reply.text, "tool_calls": [call.to_openai()]})
        else:
            assert not reply.tool_calls
            block = json.loads(reply.text.split("```action\n")[1].split("```")[0])
            name, args = block["tool"], block["args"]
            messages.append({"role": "assistant", "content": reply.text})
        taken.append((name, args))
        if name == "submit":
            return taken
        observation = getattr(tools, name)(**args)
        if native:
            messages.append({"role": "tool", "tool_call_id": call.id, "content": observation})
        else:
            messages.append({"role": "user", "content": "Observation:\n" + observation})
    raise AssertionError(f"no submit after {taken}")


def test_the_oracle_reproduces_the_gold_patch_hunk_by_hunk(tmp_path: Path) -> None:
    repo, diff, expected = _gold(tmp_path)
    model = OracleAgentModel(diff, tests=["tests/test_ops.py"])
    taken = _drive(model, Tools(repo))
    assert [name for name, _ in taken] == [
        "search", "view", "edit",  # calc/__init__.py
        "edit",  # calc/new.py: created with an empty search
        "search", "view", "edit", "view", "edit",  # calc/ops.py, ambiguous: a wider window
        "search", "view", "edit",  # the second hunk of calc/ops.py
        "run_tests", "submit",
    ]  # fmt: skip
    for path, text in expected.items():
        assert (repo / path).read_text() == text, path
    search = taken[4][1]
    assert search["path_glob"] == "calc/ops.py" and re.search(search["regex"], "    for x in xs:")
    assert taken[5][1]["path"] == "calc/ops.py" and taken[5][1]["line"] == 42  # the copy the hunk changes
    assert taken[7][1]["line"] == 22 and taken[7][1]["after"] > 40  # the window around the hunk
    assert taken[3][1] == {"path": "calc/new.py", "search": "", "replace": "VALUE = 1\n"}
    assert taken[12][1] == {"targets": ["tests/test_ops.py"]}


def test_ids_are_unique_and_replies_are_deterministic(tmp_path: Path) -> None:
    _repo, diff, _expected = _gold(tmp_path)
    messages: list[Message] = [{"role": "user", "content": "issue"}]
    model = OracleAgentModel(diff)
    first = model.complete(messages, tools=TOOLS)
    assert first == OracleAgentModel(diff).complete(messages, tools=TOOLS)  # nothing kept between calls
    ids = set()
    for _ in range(3):
        reply = model.complete(messages, tools=TOOLS)
        (call,) = reply.tool_calls
        ids.add(call.id)
        messages += [
            {"role": "assistant", "content": reply.text, "tool_calls": [call.to_openai()]},
            {"role": "tool", "tool_call_id": call.id, "content": "calc/__init__.py:1: x"},
        ]
    assert len(ids) == 3


def test_the_text_protocol_and_the_reviewer(tmp_path: Path) -> None:
    repo, diff, expected = _gold(tmp_path)
    taken = _drive(OracleAgentModel(diff, native_tools=False), Tools(repo), native=False)
    assert taken[-2:] == [("run_tests", {"targets": None}), ("submit", taken[-1][1])]
    assert all((repo / p).read_text() == t for p, t in expected.items())
    verdict = OracleAgentModel(diff).complete(
        [{"role": "user", "content": 'Answer {"right_track": bool, "feedback": str | null}'}]
    )
    assert json.loads(verdict.text) == {"right_track": True, "feedback": None}


def test_helpers() -> None:
    assert regex_literal("a.b(c)[d] * $x") == r"a\.b\(c\)\[d\] \* \$x"
    assert numbered_lines("outline\n 9: def f\n10: def g\n\nLines 10-12:\n10: a\n11:     b\n12: \n") == {
        10: "a",
        11: "    b",
        12: "",
    }
    hunks = hunks_of("--- a/x.py\n+++ b/x.py\n@@ -5,2 +7,3 @@ def f\n a\n-b\n+c\n+d\n")
    assert [(h.path, h.old, h.new, h.start) for h in hunks] == [("x.py", "a\nb\n", "a\nc\nd\n", 7)]


class Stubborn(Tools):
    """Tools whose first ``refusals`` edits of calc/ops.py do not apply."""

    def __init__(self, tree: Path, refusals: int) -> None:
        super().__init__(tree)
        self.refusals = refusals

    def edit(self, path: str, search: str, replace: str) -> str:
        if path == "calc/ops.py" and self.refusals:
            self.refusals -= 1
            return "Not applied (no match). Nothing was changed."
        return super().edit(path, search, replace)


def test_a_hunk_that_will_not_apply_falls_back_to_a_window_then_the_whole_file(tmp_path: Path) -> None:
    repo, diff, expected = _gold(tmp_path)
    taken = _drive(OracleAgentModel(diff), Stubborn(repo, refusals=2))
    ops = [(name, args) for name, args in taken if args.get("path") == "calc/ops.py"][:7]
    assert [name for name, _ in ops] == ["view", "edit", "view", "edit", "view", "edit", "view"]
    assert ops[2][1]["before"] == 0 and ops[4][1]["before"] == 150  # a window, then the whole file
    assert all((repo / p).read_text() == t for p, t in expected.items())


def test_two_hunks_alike_search_for_different_lines() -> None:
    body = "    if value is None:\n        return default\n"
    patch = (
        "--- a/x.py\n+++ b/x.py\n"
        f"@@ -1,2 +1,3 @@\n {body.splitlines()[0]}\n {body.splitlines()[1]}\n+    # one\n"
        f"@@ -20,3 +21,3 @@\n-    x = 1\n {body.splitlines()[0]}\n {body.splitlines()[1]}\n+    x = 2\n"
    )
    first, second = hunks_of(patch)
    assert first.anchor == (0, "if value is None:") and second.anchor == (2, "return default")


def test_the_agent_strategy_driven_by_the_oracle_verifies_the_gold_patch(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`repomind solve --strategy agent` with the oracle as its model (the reviewer on, as by default):
    the agent's real tools reproduce the gold patch and its verification passes."""
    from click.testing import CliRunner

    from repomind.cli import cli
    from repomind.cli.context import Context
    from repomind.compose import Boundaries
    from repomind.settings import Settings
    from repomind.testing import FakeSandbox
    from tests.pipeline import solve_fixtures as fx

    repo = make_git_repo(tmp_path / "repo", fx.FILES)
    gold = (
        "diff --git a/calc/ops.py b/calc/ops.py\n--- a/calc/ops.py\n+++ b/calc/ops.py\n"
        "@@ -3,7 +3,7 @@\n \n \n def add(a, b):\n-    return a - b\n+    return a + b\n"
        " \n \n def mul(a, b):\n"
    )
    made: list[OracleAgentModel] = []

    def oracle(name: str, **_kw: Any) -> OracleAgentModel:
        made.append(OracleAgentModel(gold, tests=["tests/test_ops.py"], model=name))
        return made[-1]

    monkeypatch.setenv("REPOMIND_DATA_DIR", str(tmp_path / "data"))
    settings = Settings(data_dir=tmp_path / "data", embedding_model="none")
    boundaries = Boundaries(model=oracle, sandbox=lambda _limits, **_kw: FakeSandbox(script=fx.run_on_host))
    out = tmp_path / "run"
    args = ["solve", "--repo", str(repo), "--issue-text", fx.ISSUE, "--out", str(out), "--model", "oracle"]
    result = CliRunner().invoke(
        cli, [*args, "--strategy", "agent"], obj=Context(settings, boundaries), catch_exceptions=False
    )
    report = json.loads((out / "report.json").read_text())
    assert result.exit_code == 0, (result.output, report["message"])
    assert report["success"] and report["strategy"] == "agent" and report["attempts"] == 1
    assert "-    return a - b\n+    return a + b" in (out / "patch.diff").read_text()
    steps = [json.loads(x) for x in (out / "trajectory.jsonl").read_text().splitlines()]
    tools = [s["tool"] for s in steps if s["type"] == "step"]
    assert tools == ["search", "view", "edit", "run_tests", "submit"]
    assert report["review"]["calls"] == 2 and report["review"]["rejected"] == 0  # edit and submit

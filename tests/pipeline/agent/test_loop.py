"""The agent strategy end to end on a real git repository, with a scripted model that calls the
tools; the tests run for real on the host (FakeSandbox runs pytest in the work tree)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from repomind.pipeline.llm import LanguageModel
from repomind.pipeline.localise.result import Localisation, RankedFile
from repomind.pipeline.solve import SolveReport, SolveRequest, Stopped, read_trajectory
from repomind.pipeline.solve import events as ev
from repomind.pipeline.strategies import Agent
from repomind.repoconfig import RepoConfig
from repomind.testing import FakeSandbox, ScriptedModel, make_git_repo, tool_call
from tests.pipeline import solve_fixtures as fx

#: The issue names no file and no function: only a search for the behaviour finds the bug.
ISSUE = """Summing two numbers gives a negative result

Adding 2 and 3 yields -1. The test `tests/test_ops.py::test_add` shows it.
"""
DECOY = {"calc/report.py": '"""Reports."""\n\n\ndef summary(lines):\n    return "\\n".join(lines)\n'}


class Fixed:
    """A localiser that ranks one decoy file first, in a set of one: the bug is elsewhere."""

    def localise(self, work_tree: Path, issue_text: str) -> Localisation:
        return Localisation([RankedFile("calc/report.py", 0.9)], ["calc/report.py"], 0.9, ["fixed"])


def run(
    tmp_path: Path,
    replies: list[Any],
    *,
    config: RepoConfig | None = None,
    reviewer: LanguageModel | None = None,
    should_cancel: Any = lambda: False,
    native: bool = True,
    **request: Any,
) -> tuple[SolveReport, ScriptedModel, list[ev.RunEvent]]:
    repo = tmp_path / "repo"
    if not repo.exists():
        make_git_repo(repo, {**fx.FILES, **DECOY})
    model = ScriptedModel(list(replies), native_tools=native)
    seen: list[ev.RunEvent] = []
    out = tmp_path / f"run-{len(list(tmp_path.iterdir()))}"
    report = Agent(reviewer=reviewer).solve(
        SolveRequest(str(repo), ISSUE, out, config=config or RepoConfig(review_steps=False), **request),
        model=model,
        sandbox=FakeSandbox(script=fx.run_on_host, read_back=fx.read_back_on_host),
        localiser=Fixed(),
        events=ev.RunEvents(seen.append),
        should_cancel=should_cancel,
    )
    return report, model, seen


FIND = tool_call("search", "The sum is wrong: find where numbers are added.", regex=r"def add\(")
VIEW = tool_call("view", "Look at add().", path="calc/ops.py", line=1)
EDIT = tool_call(
    "edit", "It subtracts.", path="calc/ops.py", search="    return a - b\n", replace="    return a + b\n"
)
TEST = tool_call("run_tests", "Check the issue's test.", targets=["tests/test_ops.py"])
SUBMIT = tool_call("submit", summary="add() subtracted its operands; it adds them now.")


def steps(events: list[ev.RunEvent]) -> list[ev.StepTaken]:
    return [e for e in events if isinstance(e, ev.StepTaken)]


def test_a_bug_found_only_by_search_is_fixed_tested_and_verified(tmp_path: Path) -> None:
    report, model, seen = run(tmp_path, [FIND, VIEW, EDIT, TEST, SUBMIT])
    assert report.success and report.verified and report.stopped is Stopped.PASSED
    assert (report.strategy, report.steps, len(report.attempts)) == ("agent", 5, 1)
    taken = steps(seen)
    assert [s.tool for s in taken] == ["search", "view", "edit", "run_tests", "submit"]
    assert "calc/ops.py:4:" in taken[0].observation  # the search found the definition with its line
    assert "return a - b" in taken[1].observation and taken[4].attempt == 1
    assert "1 passed" in taken[3].outcome or "passed" in taken[3].observation
    # the tools were offered natively, by their names, on every call
    assert all(
        [t["function"]["name"] for t in (offer or [])] == ["search", "view", "edit", "run_tests", "submit"]
        for offer in model.tools_offered
    )
    # the first message showed the localiser's file and said where to look, not the buggy one
    first = model.prompts()[0]
    assert "calc/report.py" in first and "Summing two numbers" in first and "return a - b" not in first
    # each observation reached the model as the answer of its tool call
    last = model.conversations[-1]
    assert [m["role"] for m in last[-2:]] == ["assistant", "tool"]
    assert "return a + b" in (report.out_dir / "patch.diff").read_text()
    lines = read_trajectory(report.out_dir / "trajectory.jsonl")
    kinds = [line["type"] for line in lines]
    assert kinds.count("step") == 5 and "agent-start" in kinds
    step = next(line for line in lines if line["type"] == "step")
    assert {
        "thought",
        "tool",
        "args",
        "observation",
        "review",
        "prompt_tokens",
        "cost_usd",
        "seconds",
    } <= set(step)
    data = json.loads((report.out_dir / "report.json").read_text())
    assert (data["strategy"], data["steps"], data["attempts"]) == ("agent", 5, 1)


def action(tool: str, thought: str = "", **args: Any) -> str:
    return f"{thought}\n\n```action\n{json.dumps({'tool': tool, 'args': args})}\n```\n"


def test_the_text_protocol_runs_the_same_loop(tmp_path: Path) -> None:
    replies = [
        action("search", "Find the sum.", regex=r"def add\("),
        action("view", path="calc/ops.py"),
        "I am not sure what to do.",  # no action: told so, and the loop goes on
        action("edit", path="calc/ops.py", search="    return a - b\n", replace="    return a + b\n"),
        action("submit", summary="fixed add"),
    ]
    report, model, seen = run(tmp_path, replies, native=False)
    assert report.success and report.steps == 5
    assert model.tools_offered == [None] * 5  # no native tools offered
    assert "```action" in model.conversations[0][0]["content"]  # the format is in the system rules
    taken = steps(seen)
    assert taken[2].tool == "" and taken[2].outcome == "no valid action"
    assert "action" in model.prompts()[3].split("I am not sure what to do.")[-1]


def test_an_undefined_name_in_an_edit_is_reported_and_corrected(tmp_path: Path) -> None:
    bad = tool_call(
        "edit", path="calc/ops.py", search="    return a - b\n", replace="    return plus(a, b)\n"
    )
    good = tool_call(
        "edit", path="calc/ops.py", search="    return plus(a, b)\n", replace="    return a + b\n"
    )
    report, model, seen = run(tmp_path, [VIEW, bad, good, SUBMIT])
    assert report.success
    taken = steps(seen)
    assert "plus" in taken[1].observation and "undefined" in taken[1].observation.lower()
    assert "plus" in model.prompts()[2].split("return plus(a, b)")[-1]  # the lint result reached the model


def test_an_edit_the_reviewer_rejects_does_not_run_and_its_feedback_reaches_the_model(tmp_path: Path) -> None:
    wrong = tool_call("edit", path="calc/ops.py", search="    return a - b\n", replace="    return a * b\n")
    no = '{"right_track": false, "feedback": "Multiplying does not add: use a plus."}'
    yes = '{"right_track": true, "feedback": null}'
    reviewer = ScriptedModel([no, yes, yes], model="reviewer")
    report, model, seen = run(
        tmp_path, [VIEW, wrong, EDIT, SUBMIT], config=RepoConfig(review_steps="edits"), reviewer=reviewer
    )
    assert report.success
    taken = steps(seen)
    assert taken[0].review is None  # a view is not reviewed with review_steps: edits
    assert taken[1].review is not None and taken[1].review["right_track"] is False
    assert taken[1].outcome == "refused: off track"
    assert "use a plus" in model.prompts()[2]
    assert "return a * b" not in (report.out_dir / "patch.diff").read_text()
    assert report.review["calls"] == 3 and report.review["rejected"] == 1
    assert "Multiplying" not in reviewer.prompts()[0] and "calc/ops.py" in reviewer.prompts()[0]


def test_review_steps_true_reviews_every_action_with_the_runs_own_model(tmp_path: Path) -> None:
    yes = '{"right_track": true, "feedback": null}'
    report, model, _ = run(
        tmp_path, [VIEW, yes, EDIT, yes, SUBMIT, yes], config=RepoConfig(review_steps=True)
    )
    assert report.success and report.review["calls"] == 3
    assert model.tools_offered[1] is None  # the reviewer's call offers no tools


def test_a_failed_verification_goes_back_to_the_model(tmp_path: Path) -> None:
    wrong = tool_call("edit", path="calc/ops.py", search="    return a - b\n", replace="    return a * b\n")
    fix = tool_call(
        "edit",
        path="calc/ops.py",
        search="def add(a, b):\n    return a * b\n",
        replace="def add(a, b):\n    return a + b\n",
    )
    report, model, seen = run(tmp_path, [VIEW, wrong, SUBMIT, fix, SUBMIT])
    assert report.success and len(report.attempts) == 2 and report.steps == 5
    assert not report.attempts[0].passed
    assert "Verification 1 failed" in model.prompts()[3]
    assert [s.attempt for s in steps(seen)] == [None, None, 1, None, 2]
    # each attempt row is charged the steps that led to its submit (not 0: the tokens are per step)
    spent = [s.prompt_tokens + s.completion_tokens for s in steps(seen)]
    assert spent[0] > 0
    assert [a.tokens for a in report.attempts] == [sum(spent[:3]), sum(spent[3:])]


def test_a_protected_path_is_refused(tmp_path: Path) -> None:
    ci = tool_call("edit", path="setup.py", search="", replace="print('owned')\n")
    report, _, seen = run(tmp_path, [ci, VIEW, EDIT, SUBMIT])
    taken = steps(seen)
    assert taken[0].outcome.startswith("refused") or "protected" in taken[0].observation
    assert not (report.out_dir / "patch.diff").read_text().count("setup.py")
    assert report.success


def test_the_step_limit_stops_the_run(tmp_path: Path) -> None:
    report, *_ = run(tmp_path, [FIND, VIEW, EDIT], config=RepoConfig(max_steps=3, review_steps=False))
    assert report.stopped is Stopped.STEP_LIMIT and report.steps == 3 and not report.success
    assert "return a + b" in (report.out_dir / "patch.diff").read_text() or report.attempts == []


def test_a_repeated_action_is_told_then_stops_the_run(tmp_path: Path) -> None:
    report, model, seen = run(tmp_path, [FIND, FIND, FIND])
    assert report.stopped is Stopped.REPEATED
    assert steps(seen)[1].outcome == "repeated: not run"
    assert "exact action" in model.prompts()[2]


def test_the_budget_stops_the_run(tmp_path: Path) -> None:
    report, _, seen = run(tmp_path, [FIND, VIEW, EDIT, SUBMIT], budget_tokens=3000)
    assert report.stopped is Stopped.BUDGET and 0 < report.steps < 4
    assert any(isinstance(e, ev.BudgetSpent) for e in seen)


def test_cancel_is_honoured_between_steps(tmp_path: Path) -> None:
    calls = {"n": 0}

    def cancel() -> bool:
        calls["n"] += 1
        return calls["n"] > 4  # two stage checks, then two steps

    report, model, _ = run(tmp_path, [FIND, VIEW, EDIT, SUBMIT], should_cancel=cancel)
    assert report.stopped is Stopped.CANCELLED and report.steps == 2
    assert len(model.replies) == 2  # the later replies were never asked for


@pytest.mark.parametrize("answer", ["not json", '{"right_track": "maybe"}'])
def test_an_unreadable_review_allows_the_action(answer: str) -> None:
    from repomind.pipeline.agent.review import read_verdict

    right, feedback = read_verdict(answer)
    assert right and feedback and "could not be read" in feedback

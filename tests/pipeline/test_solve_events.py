"""The solve run's story (typed events on one stream), cancel, pins, the needs-hint stop and people's words in
the prompt.

The tests run for real on the host (FakeSandbox runs pytest in the work tree), with a scripted model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from repomind.pipeline.localise.pins import apply_pins
from repomind.pipeline.localise.result import Localisation, RankedFile
from repomind.pipeline.solve import SolveReport, SolveRequest, Stopped, solve
from repomind.pipeline.solve import events as ev
from repomind.pipeline.solve.artifacts import read_trajectory
from repomind.repoconfig import RepoConfig
from repomind.testing import FakeSandbox, ScriptedModel, make_git_repo
from tests.pipeline import solve_fixtures as fx


class Fixed:
    """A localiser that answers one ranking and set."""

    def __init__(self, paths: list[str], set_size: int | None) -> None:
        self.paths, self.set_size = paths, set_size

    def localise(self, work_tree: Path, issue_text: str) -> Localisation:
        files = [RankedFile(p, 1.0 / (i + 1)) for i, p in enumerate(self.paths)]
        chosen = None if self.set_size is None else self.paths[: self.set_size]
        return Localisation(files, chosen, 0.9, ["fixed"])


def run(
    tmp_path: Path,
    replies: list[str],
    *,
    events: ev.RunEvents | None = None,
    should_cancel: Any = lambda: False,
    localiser: Any = None,
    **request: Any,
) -> tuple[SolveReport, ScriptedModel, FakeSandbox]:
    repo = tmp_path / "repo"
    if not repo.exists():
        make_git_repo(repo, fx.FILES)
    model = ScriptedModel(list(replies))
    box = FakeSandbox(script=fx.run_on_host)
    out = tmp_path / f"run-{len(list(tmp_path.iterdir()))}"
    report = solve(
        SolveRequest(str(repo), fx.ISSUE, out, **request),
        model=model,
        sandbox=box,
        localiser=localiser,
        events=events,
        should_cancel=should_cancel,
    )
    return report, model, box


def test_a_run_tells_its_story_in_order(tmp_path: Path) -> None:
    seen: list[ev.RunEvent] = []
    report, *_ = run(
        tmp_path, [fx.WRONG, fx.FIX], events=ev.RunEvents(seen.append), localiser=Fixed(["calc/ops.py"], 1)
    )
    assert report.success

    def name(event: ev.RunEvent) -> str:
        return type(event).__name__ + (f":{event.phase}" if isinstance(event, ev.TestsRan) else "")

    patch = ["AttemptStarted", "Replied", "EditsRead", "PatchApplied", "Linted", "TestsPlanned"]
    assert [name(e) for e in seen] == [
        *("RunStarted", "Localised", "EnvironmentPreparing", "EnvironmentReady"),
        *patch,
        *("TestsRan:before", "TestsRan:after", "TestsJudged", "Reflected"),
        *patch,  # the baseline is cached; a test that turns to passing is rerun on the unpatched code
        *("TestsRan:after", "TestsRan:rerun-before", "TestsJudged", "Reflected"),
        "RunFinished",
    ]
    localised = next(e for e in seen if isinstance(e, ev.Localised))
    assert localised.localisation.set == ["calc/ops.py"]
    reflected = [e for e in seen if isinstance(e, ev.Reflected)]
    assert [(e.attempt, e.category.value) for e in reflected] == [(1, "test-failure"), (2, "passed")]
    assert reflected[1].record.tokens > 0  # tokens and cost are on the record when it is emitted
    finished = seen[-1]
    assert isinstance(finished, ev.RunFinished) and finished.stopped is Stopped.PASSED
    assert finished.report is report and finished.patch == report.attempts[1].diff
    # the trajectory on disk is the same story, written by the recorder that subscribed first
    lines = read_trajectory(report.out_dir / "trajectory.jsonl")
    assert [line["type"] for line in lines][:4] == ["run-start", "localise", "environment", "prompt"]
    assert lines[-1]["type"] == "run-end" and lines[-1]["stopped"] == "passed"
    assert [line["category"] for line in lines if line["type"] == "attempt-end"] == ["test-failure", "passed"]


def test_progress_lines_describe_the_run(tmp_path: Path) -> None:
    lines: list[str] = []
    run(tmp_path, [fx.FIX], events=ev.RunEvents(ev.progress_lines(lines.append)))  # the CLI's subscriber
    said = lines
    assert said[:3] == ["localising", "preparing the sandbox environment", "attempt 1: asking scripted"]
    assert said[3].startswith("attempt 1: running ") and said[4].startswith("attempt 1: passed: ")


def test_cancel_after_localisation_spends_nothing(tmp_path: Path) -> None:
    seen: list[ev.RunEvent] = []
    report, model, box = run(tmp_path, [fx.FIX], events=ev.RunEvents(seen.append), should_cancel=lambda: True)
    assert report.stopped is Stopped.CANCELLED and not report.success
    assert model.conversations == [] and box.prepared == [] and report.attempts == []
    assert [type(e) for e in seen] == [ev.RunStarted, ev.Localised, ev.RunFinished]


def test_cancel_is_polled_before_each_attempt(tmp_path: Path) -> None:
    attempts: list[int] = []

    def on_event(event: ev.RunEvent) -> None:
        if isinstance(event, ev.Reflected):
            attempts.append(event.attempt)

    report, model, _box = run(
        tmp_path, [fx.WRONG, fx.FIX], events=ev.RunEvents(on_event), should_cancel=lambda: bool(attempts)
    )
    assert report.stopped is Stopped.CANCELLED and report.message == "cancelled before attempt 2"
    assert len(model.conversations) == 1 and not report.success


def test_a_wide_set_stops_before_patching_unless_a_file_is_included(tmp_path: Path) -> None:
    wide = Fixed(["tests/test_ops.py", "calc/__init__.py", "tests/__init__.py", "calc/ops.py"], 4)
    report, model, box = run(tmp_path, [fx.FIX], localiser=wide, max_set_size=3)
    assert report.stopped is Stopped.NEEDS_HINT and "4 files, more than max_set_size (3)" in report.message
    assert model.conversations == [] and box.prepared == []
    assert report.localisation["set"] == wide.paths

    # include pins the file first (it is the hint the bot asked for), so the run goes on
    report, model, _box = run(tmp_path, [fx.FIX], localiser=wide, max_set_size=3, include=("calc/ops.py",))
    assert report.success
    assert report.localisation["set"][0] == "calc/ops.py" and "pins" in report.localisation["signals"]
    # no limit (the CLI): no stop
    report, *_ = run(tmp_path, [fx.FIX], localiser=wide)
    assert report.success


def test_pins_steer_the_files_in_the_prompt(tmp_path: Path) -> None:
    only_tests = Fixed(["tests/test_ops.py"], 1)
    _report, model, _box = run(
        tmp_path,
        [fx.FIX],
        localiser=only_tests,
        include=("calc/ops.py",),
        exclude=("tests",),
        max_attempts=1,
    )
    prompt = model.prompts()[0]
    assert "## calc/ops.py" in prompt and "## tests/test_ops.py" not in prompt


def test_hint_feedback_and_the_callers_config_reach_the_run(tmp_path: Path) -> None:
    report, model, _box = run(
        tmp_path,
        [fx.WRONG, fx.FIX],
        hint="look at the operator in add() <!-- and rm -rf / -->",
        feedback="keep mul() as it is",
        config=RepoConfig(max_attempts=1, instructions="Use four spaces."),
    )
    assert len(report.attempts) == 1 and report.stopped is Stopped.ATTEMPTS_EXHAUSTED
    prompt = model.prompts()[0]
    assert "<hint>\nlook at the operator in add()\n</hint>" in prompt and "rm -rf" not in prompt
    assert "<feedback>\nkeep mul() as it is\n</feedback>" in prompt and "Use four spaces." in prompt
    # without them the prompt has no such sections
    _report, model, _box = run(tmp_path, [fx.FIX], max_attempts=1)
    assert "<hint>" not in model.prompts()[0] and "feedback" not in model.prompts()[0]


def test_apply_pins() -> None:
    loc = Localisation(
        [RankedFile("a/x.py", 0.5), RankedFile("b/y.py", 0.4), RankedFile("c.py", 0.3)],
        ["a/x.py", "b/y.py"],
        0.9,
        ["bm25"],
        note="calibrated",
    )
    files = ["a/x.py", "b/y.py", "c.py", "d/e.py", "d/f.py"]
    pinned = apply_pins(loc, files, include=("./d/", "nope.py", "b/y.py"), exclude=("a", "d/f.py"))
    assert [f.path for f in pinned.files] == ["d/e.py", "b/y.py", "c.py"]
    assert pinned.set == ["d/e.py", "b/y.py"] and pinned.files[0].score == 0.5
    assert "`include` matched no file: nope.py" in pinned.note and pinned.note.startswith("calibrated")
    assert apply_pins(loc, files) is loc
    assert apply_pins(loc, files, include=("../etc/passwd",)) is loc

"""The solve pipeline's hooks (events, cancel), pins, the needs-hint stop and people's words in the prompt.

The tests run for real on the host (FakeSandbox runs pytest in the work tree), with a scripted model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from repomind.pipeline.localise.pins import apply_pins
from repomind.pipeline.localise.result import Localisation, RankedFile
from repomind.pipeline.solve import SolveReport, SolveRequest, solve
from repomind.pipeline.solve.hooks import SolveHooks
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
    hooks: SolveHooks | None = None,
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
        hooks=hooks,
    )
    return report, model, box


def test_events_come_after_localisation_and_after_each_attempt(tmp_path: Path) -> None:
    seen: list[tuple[str, Any]] = []
    hooks = SolveHooks(
        on_localised=lambda loc: seen.append(("localised", loc.set)),
        on_attempt=lambda rec: seen.append(("attempt", rec.category.value)),
    )
    report, *_ = run(tmp_path, [fx.WRONG, fx.FIX], hooks=hooks, localiser=Fixed(["calc/ops.py"], 1))
    assert report.success
    assert seen == [("localised", ["calc/ops.py"]), ("attempt", "test-failure"), ("attempt", "passed")]


def test_cancel_after_localisation_spends_nothing(tmp_path: Path) -> None:
    report, model, box = run(tmp_path, [fx.FIX], hooks=SolveHooks(should_cancel=lambda: True))
    assert report.stopped == "cancelled" and not report.success
    assert model.conversations == [] and box.prepared == [] and report.attempts == []


def test_cancel_is_polled_before_each_attempt(tmp_path: Path) -> None:
    attempts: list[int] = []
    hooks = SolveHooks(
        on_attempt=lambda rec: attempts.append(rec.number), should_cancel=lambda: bool(attempts)
    )
    report, model, _box = run(tmp_path, [fx.WRONG, fx.FIX], hooks=hooks)
    assert report.stopped == "cancelled" and report.message == "cancelled before attempt 2"
    assert len(model.conversations) == 1 and not report.success


def test_a_wide_set_stops_before_patching_unless_a_file_is_included(tmp_path: Path) -> None:
    wide = Fixed(["tests/test_ops.py", "calc/__init__.py", "tests/__init__.py", "calc/ops.py"], 4)
    report, model, box = run(tmp_path, [fx.FIX], localiser=wide, max_set_size=3)
    assert report.stopped == "needs-hint" and "4 files, more than max_set_size (3)" in report.message
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
    assert len(report.attempts) == 1 and report.stopped == "attempts-exhausted"
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

"""The agent's steps as people see them: live on the status comment (a bounded list, the step counter),
and in the PR body's account of what the agent looked at and changed (hostile text neutralised).

The steps are a synthetic event stream (``StepTaken``) from the FakePipeline, recorded into a real run
directory by the real RunRecorder, through the real JobRunner on the in-memory GitHub."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from repomind.bot.commands.options import BotOptions
from repomind.bot.jobs.job_runner import JobRunner
from repomind.bot.render import code, prose, quote
from repomind.bot.status import STEP_LINES, StatusComment
from repomind.pipeline.solve import events as ev
from repomind.pipeline.solve.account import LIST_LIMIT, account_of
from repomind.store import JobRequest, JobState, Ledger, make_engine
from repomind.testing import FakeGitHubFactory, FakePipeline, FakeQueue, GitHubState, make_git_repo
from tests.bot.conftest import CALC, FIXED
from tests.bot.helpers import REPO

HOSTILE = "<img src=x onerror=alert(1)> ping @octocat and @org/team"


def step(n: int, tool: str, outcome: str, review: dict[str, Any] | None = None, **args: Any) -> ev.StepTaken:
    return ev.StepTaken(
        n, f"thought {n}", tool, args, f"observation {n}", outcome, review, 100, 20, 0.001, 0.5
    )


def agent_steps() -> list[ev.StepTaken]:
    off_track = {"right_track": False, "feedback": "view the caller first", "tokens": 9, "cost_usd": None}
    return [
        step(1, "search", "2 matches", regex="def add", path_glob="**/*.py"),
        step(2, "view", "lines 1-3", path="calc.py", line=1),
        step(3, "edit", "refused: off track", off_track, path="calc.py", search="a - b", replace="a + b"),
        step(4, "view", "lines 1-3", path="tests/test_calc.py", line=1),
        step(5, "edit", "applied", path="calc.py", search="a - b", replace="a + b"),
        step(6, "run_tests", "1 passed", targets=["tests/test_calc.py::test_add"]),
        step(7, "submit", "verified: passed", summary=f"add() subtracted; it adds now.\n{HOSTILE}"),
    ]


def run_job(tmp_path: Path, pipeline: FakePipeline) -> tuple[GitHubState, Ledger]:
    state = GitHubState(tmp_path / "gh")
    state.add_repo(REPO, make_git_repo(tmp_path / "src", CALC))
    state.open_issue(REPO, "add() subtracts", "...")
    ledger = Ledger(make_engine(f"sqlite:///{tmp_path / 'store.db'}"))
    runner = JobRunner(
        ledger, FakeGitHubFactory(state), pipeline, FakeQueue(), BotOptions("repomind", tmp_path / "work")
    )
    job, _ = ledger.open_job(JobRequest(REPO, 1, 1, "label", "fix"))
    runner.run(job.id)
    assert ledger.job(job.id).state is JobState.SUCCEEDED
    return state, ledger


def test_the_status_comment_shows_the_latest_steps_and_the_counter(tmp_path: Path) -> None:
    state = GitHubState(tmp_path / "gh")
    state.add_repo(REPO, make_git_repo(tmp_path / "src", CALC))
    state.open_issue(REPO, "add() subtracts", "...")
    ledger = Ledger(make_engine(f"sqlite:///{tmp_path / 'store.db'}"))
    job, _ = ledger.open_job(JobRequest(REPO, 1, 1, "label", "fix"))
    status = StatusComment(state, ledger, job, run_url=None, login="repomind[bot]")
    stream = ev.RunEvents(status.follow)
    stream.emit(ev.AgentStarted([], [], "native", 40, 32_000))
    assert status.view.stage == "The agent is working (at most 40 steps)…"
    many = [step(n, "view", f"lines {n}-{n + 9}", path=f"m{n}.py") for n in range(1, 31)]
    for event in [*many, step(31, "run_tests", f"1 failed {HOSTILE}")]:
        stream.emit(event)
    assert len(status.view.steps) == STEP_LINES  # bounded, however long the run
    assert status.view.stage.startswith("Step 31 · run_tests · 1 failed")
    body = status.body()
    assert "#### Agent: step 31 of 40" in body
    assert "- 31 · `run_tests` `planned` · 1 failed" in body
    assert "- 27 · `view` `m27.py:1` · lines 27-36" in body and "m26.py" not in body
    assert "<img" not in body and "&lt;img" in body and "@octocat" not in body and "@\u200boctocat" in body


def test_status_comment_edits_for_steps_are_throttled(tmp_path: Path) -> None:
    state = GitHubState(tmp_path / "gh")
    state.add_repo(REPO, make_git_repo(tmp_path / "src", CALC))
    state.open_issue(REPO, "add() subtracts", "...")
    ledger = Ledger(make_engine(f"sqlite:///{tmp_path / 'store.db'}"))
    job, _ = ledger.open_job(JobRequest(REPO, 1, 1, "label", "fix"))
    status = StatusComment(state, ledger, job, run_url=None, login="repomind[bot]")
    status.update(stage="start")  # posts the comment: the next edits within the interval are skipped
    stream = ev.RunEvents(status.follow)
    for n in range(1, 11):
        stream.emit(step(n, "view", "lines 1-100", path="calc.py"))
    [comment] = state.comments_on(REPO, 1)
    assert "Agent: step" not in comment.body  # ten quick steps made no edit
    assert status.view.steps[-1].step == 10  # but the view is current: the next edit shows it


def test_the_pr_body_gives_the_agents_account(tmp_path: Path) -> None:
    pipeline = FakePipeline(edits={"calc.py": FIXED}, agent_steps=agent_steps(), runs_dir=tmp_path / "runs")
    state, _ledger = run_job(tmp_path, pipeline)
    [pr] = state.pulls(REPO)
    body = pr.body
    section = body[body.index("### How the agent worked") : body.index("### Test evidence")]
    assert (
        "7 steps (at most 40), 1 verification of a submitted change; the reviewer sent back 1 action."
        in section
    )
    assert "> add() subtracted; it adds now." in section
    assert "- **Files viewed**: `calc.py`, `tests/test_calc.py`" in section
    assert "- **Searches**: `def add in **/*.py` (2 matches)" in section
    assert "- **Tests run**: `tests/test_calc.py::test_add` (1 passed)" in section
    assert "- **Files edited**: `calc.py`" in section
    assert "<img" not in body and "&lt;img src=x onerror=alert(1)&gt;" in section
    assert "@octocat" not in body and "@org/team" not in body
    [status] = [c.body for c in state.comments_on(REPO, 1) if "repomind:job:1" in c.body]
    assert "#### Agent: step 7 of 40" in status and "- 7 · `submit` · verified: passed" in status
    assert "- 3 · `edit` `calc.py` · refused: off track (reviewer: off track)" in status


def test_a_pipeline_run_has_no_agent_account(tmp_path: Path) -> None:
    state, _ledger = run_job(tmp_path, FakePipeline(edits={"calc.py": FIXED}, runs_dir=tmp_path / "runs"))
    [pr] = state.pulls(REPO)
    assert "How the agent worked" not in pr.body and "Agent: step" not in pr.body


def test_the_account_is_bounded(tmp_path: Path) -> None:
    steps = [step(n, "view", "lines 1-100", path=f"pkg/m{n}.py") for n in range(1, 40)]
    steps.append(step(40, "submit", "verified: passed", summary="x" * 10_000))
    pipeline = FakePipeline(edits={"calc.py": FIXED}, agent_steps=steps, runs_dir=tmp_path / "runs")
    state, ledger = run_job(tmp_path, pipeline)
    result = ledger.job(1).result or {}
    account = account_of(Path(str(result["run_dir"])))
    assert account is not None and len(account.viewed) == LIST_LIMIT and account.more == {"viewed": 29}
    assert len(account.summary) <= 1_500
    [pr] = state.pulls(REPO)
    assert "(and 29 more)" in pr.body and "pkg/m11.py" not in pr.body


def test_untrusted_text_filters() -> None:
    assert code("a`b") == "``a`b``" and code("`x`") == "`` `x` ``" and code("a\n\nb") == "`a b`"
    assert prose("<b>hi</b> @bob a@b.c") == "&lt;b&gt;hi&lt;/b&gt; @\u200bbob a@\u200bb.c"
    assert quote("one\n\n@two") == "> one\n>\n> @\u200btwo"

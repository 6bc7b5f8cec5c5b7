"""Stage durations, sandbox runs, LLM latency and feedback in ``/metrics``, across processes: the worker that
ran a job stores its timings in the ledger (``result["timings"]``), and a web process with its own engine on
the same database exports them; log lines of a job carry its delivery, job and stage ids."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from structlog.contextvars import clear_contextvars, get_contextvars

from repomind import log
from repomind.bot.commands.options import BotOptions
from repomind.bot.jobs.job_runner import JobRunner
from repomind.bot.jobs.stage_clock import StageClock, bind_stage, stage_of
from repomind.pipeline.solve import events as ev
from repomind.pipeline.solve.outcome import Category
from repomind.pipeline.solve.reflect import AttemptRecord
from repomind.pipeline.solve.verify import TestRun as SandboxRun
from repomind.server.app import create_app
from repomind.settings import Settings
from repomind.store import JobRequest, JobState, Ledger, make_engine
from repomind.store.models import Feedback
from repomind.testing import FakeGitHubFactory, FakePipeline, FakeQueue, GitHubState, make_git_repo
from repomind.testing.pipeline import scripted_localisation
from tests.bot.conftest import CALC, FIXED
from tests.bot.helpers import OPERATOR, OPERATOR_TOKEN, REPO, SECRET


class Ticks:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _step(n: int, seconds: float, model: float, review_s: float | None) -> ev.StepTaken:
    review = {"right_track": True, "feedback": "", "tokens": 1, "cost_usd": 0, "seconds": review_s}
    verdict = review if review_s else None
    return ev.StepTaken(n, "t", "search", {}, "o", "ok", verdict, 1, 1, None, seconds, model_seconds=model)


def test_the_clock_reads_every_stage_off_the_events() -> None:
    t = Ticks()
    clock = StageClock(t)
    stream = ev.RunEvents(clock)
    stream.emit(ev.RunStarted("r", REPO, "abc", "m", "issue", 2, {}))
    t.now += 3.0
    stream.emit(ev.Localised(scripted_localisation(["calc.py"])))
    stream.emit(ev.EnvironmentPreparing())
    t.now += 12.5
    stream.emit(ev.EnvironmentReady("img", False, 99.0))  # the clock's measure wins over the event's
    stream.emit(ev.AttemptStarted(1, "m", []))
    t.now += 2.0
    stream.emit(ev.Replied(1, "reply", "m", 10, 5, None, 1.75))
    stream.emit(ev.TestsPlanned(1, "tied"))
    stream.emit(ev.TestsRan(1, "after", SandboxRun(("pytest",), 0, "passed", {}, 4.25, "")))
    t.now += 5.0
    stream.emit(ev.TestsJudged(1, {}, "", ""))
    t.now += 1.0
    stream.emit(ev.Reflected(AttemptRecord(1, Category.PASSED, "ok", seconds=0.5)))
    # the agent: steps with their model call and review; a verification without AttemptStarted
    stream.emit(_step(1, 3.0, 2.0, 0.75))
    stream.emit(_step(2, 1.0, 0.5, None))
    stream.emit(ev.Reflected(AttemptRecord(2, Category.PASSED, "ok", seconds=7.0)))
    assert clock.as_json() == {
        "localise": [3.0],
        "environment": [12.5],
        "attempt": [8.0, 7.0],
        "step": [3.0, 1.0],
        "tests": [5.0],
        "sandbox": [4.25],
        "llm": [1.75, 2.0, 0.5],
        "review": [0.75],
    }


def test_stages_name_the_log_lines() -> None:
    assert stage_of(ev.RunStarted("r", REPO, "abc", "m", "i", 1, {})) == "localise"
    assert stage_of(ev.AttemptStarted(2, "m", [])) == "attempt-2"
    assert stage_of(_step(3, 1.0, 1.0, None)) == "step-4"
    assert stage_of(ev.Replied(1, "x", "m", 1, 1, None, 0.0)) is None


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "repomind.db"


def _run_job(tmp_path: Path, db: Path, *, delivery: str | None = None) -> int:
    state = GitHubState(tmp_path / "gh")
    state.add_repo(REPO, make_git_repo(tmp_path / "src", CALC))
    state.open_issue(REPO, "add() subtracts", "...")
    ledger = Ledger(make_engine(f"sqlite:///{db}"))
    runner = JobRunner(
        ledger,
        FakeGitHubFactory(state),
        FakePipeline(edits={"calc.py": FIXED}),
        FakeQueue(),
        BotOptions("repomind", tmp_path / "work"),
    )
    job, _ = ledger.open_job(JobRequest(REPO, 1, 1, "label", "fix", delivery_id=delivery))
    runner.run(job.id)
    assert ledger.job(job.id).state is JobState.SUCCEEDED
    ledger.dispose()
    return job.id


def _samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    resp = client.get("/metrics", headers=OPERATOR)
    assert resp.status_code == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(resp.text)
        for s in family.samples
    }


def test_a_workers_timings_reach_metrics_through_the_shared_store(tmp_path: Path, store: Path) -> None:
    job_id = _run_job(tmp_path, store)
    # the web process: its own engine on the same database (PostgreSQL across hosts)
    settings = Settings(
        app_id="1",
        private_key=SecretStr("unused"),
        webhook_secret=SecretStr(SECRET),
        data_dir=tmp_path,
        operator_token=SecretStr(OPERATOR_TOKEN),
    )
    with TestClient(create_app(settings, worker=False)) as client:
        ledger = client.app.state.runtime.ledger  # type: ignore[attr-defined]
        timings = ledger.job(job_id).result["timings"]
        assert {"localise", "environment", "attempt", "tests", "sandbox", "llm", "push"} <= set(timings)
        with ledger.session() as s:
            for pr, merged in ((10, True), (11, True), (12, False)):
                s.add(Feedback(repo=REPO, pr_number=pr, merged=merged))
        ledger.open_job(JobRequest(REPO, 1, 7, "review", "revise"))
        samples = _samples(client)

    for stage in ("localise", "environment", "attempt", "tests", "push"):
        assert samples[("repomind_stage_seconds_count", (("stage", stage),))] == len(timings[stage]), stage
        assert samples[("repomind_stage_seconds_sum", (("stage", stage),))] == pytest.approx(
            sum(timings[stage])
        )
    push = (("le", "+Inf"), ("stage", "push"))
    assert samples[("repomind_stage_seconds_bucket", push)] == 1
    assert samples[("repomind_stage_seconds_count", (("stage", "step"),))] == 0  # one-shot: no steps
    assert samples[("repomind_sandbox_run_seconds_count", ())] == len(timings["sandbox"]) >= 1
    assert samples[("repomind_llm_seconds_count", (("role", "solver"),))] == 1
    assert samples[("repomind_feedback_total", (("outcome", "merged"),))] == 2
    assert samples[("repomind_feedback_total", (("outcome", "closed"),))] == 1
    assert samples[("repomind_feedback_total", (("outcome", "revised"),))] == 1


def test_log_lines_carry_the_delivery_job_and_stage(
    tmp_path: Path, store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log.configure(fmt="json", level="debug")
    try:
        job_id = _run_job(tmp_path, store, delivery="d-42")
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    finally:
        log.configure(fmt="console", level="info")
    ours = [line for line in lines if line.get("job_id") == job_id]
    assert ours and all(line["delivery_id"] == "d-42" for line in ours)
    assert any(line["event"] == "job started" for line in ours)
    stages = {line.get("stage") for line in ours}
    assert "pushing" in stages, stages  # the runner's own stage (BotRun.stage), before the branch is written
    assert get_contextvars() == {}  # nothing of the job is left on the worker's thread
    ev.RunEvents(bind_stage).emit(ev.EnvironmentPreparing())
    assert get_contextvars() == {"stage": "environment"}
    clear_contextvars()

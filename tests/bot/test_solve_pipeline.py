"""The bot's SolvePipeline: solve's report mapped onto the seam, events, pins, needs-hint and cancel.

Real localisation (IndexLocaliser, no embedder) and real tests on the host (FakeSandbox runs pytest in the
work tree); the Docker end to end through the app is in test_solve_e2e.py.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from repomind.bot.solving.pipeline_port import Hints, PipelineJob
from repomind.bot.solving.solve import NO_MODEL, SolvePipeline, make_pipeline
from repomind.compose import Boundaries, RunConfig, build_localiser, build_run, resolve
from repomind.pipeline.localise.calibrate import Calibration
from repomind.pipeline.localise.gitread import LocaliseError
from repomind.pipeline.solve import events as ev
from repomind.pipeline.solve.outcome import Category, OutcomeStatus, Stopped
from repomind.repoconfig import RepoConfig
from repomind.settings import Settings
from repomind.testing import FakePipeline, FakeSandbox, ScriptedModel, make_git_repo
from tests.pipeline import solve_fixtures as fx

TITLE, _, BODY = fx.ISSUE.partition("\n\n")


def calibration(alphas: list[float]) -> Calibration:
    return Calibration(alphas, [f"cal-{i}" for i in range(len(alphas))])


#: A calibration whose sets hold the files scoring within 60% of the top one (at 90% confidence); the
#: bot takes one of its own only with at least 50 pairs.
NARROW = calibration([0.0] * 25 + [0.6] * 25)
#: One whose sets hold every ranked file.
WIDE = calibration([1.0] * 50)


class Harness:
    """The real composition (:class:`SolvePipeline` over :func:`repomind.compose.build_run`) with the
    fakes as its boundaries: the scripted model and a sandbox that runs pytest on the host."""

    def __init__(self, tmp_path: Path, replies: list[str], cal: Calibration | None = NARROW) -> None:
        self.tree = make_git_repo(tmp_path / "checkout", fx.FILES)
        self.model = ScriptedModel(list(replies))
        self.box = FakeSandbox(script=fx.run_on_host)
        self.events: list[ev.RunEvent] = []
        self.models: list[str] = []
        self.settings = Settings(
            data_dir=tmp_path / "data",
            model="openai/default",
            embedding_model="none",
            webhook_secret=SecretStr("sekrit-value-123"),
            strategy="pipeline",  # the scripted replies are the pipeline's
        )
        if cal is not None:
            cal.save(self.settings.calibration_file)

        def make_model(name: str, *, api_base: str | None, max_tokens: int | None) -> ScriptedModel:
            self.models.append(name)
            return self.model

        self.pipeline = SolvePipeline(
            self.settings,
            boundaries=Boundaries(model=make_model, sandbox=lambda _limits, **_kw: self.box),
        )

    def run(self, config: RepoConfig | None = None, hints: Hints | None = None, **kw: Any) -> Any:
        job = PipelineJob(
            self.tree,
            TITLE,
            BODY + "\nsekrit-value-123",
            kw.get("run_config") or resolve(self.settings, config or RepoConfig()),
            hints or Hints(),
        )
        return self.pipeline.run(
            job, events=ev.RunEvents(self.events.append), should_cancel=kw.get("should_cancel", lambda: False)
        )


def test_success_maps_to_a_diff_evidence_and_attempts(tmp_path: Path) -> None:
    h = Harness(tmp_path, [fx.WRONG, fx.FIX])
    outcome = h.run()
    assert outcome.status is OutcomeStatus.SUCCESS
    assert "-    return a - b\n+    return a + b" in outcome.diff
    assert outcome.evidence.fixed == ("tests/test_ops.py::test_add",) and outcome.evidence.verified
    assert "tests/test_ops.py::test_mul" in outcome.evidence.still_passing
    assert [(a.number, a.outcome, a.tests_passed, a.tests_failed) for a in outcome.attempts] == [
        (1, Category.TEST_FAILURE, 1, 1),
        (2, Category.PASSED, 2, 0),
    ]
    assert outcome.tokens > 0 and outcome.model == "scripted" and h.models == ["openai/default"]
    assert outcome.summary.startswith("Changes `calc/ops.py` (attempt 2 of at most 3).")
    loc = outcome.localisation
    assert loc is not None and loc.set and "calc/ops.py" in loc.set and loc.confidence == 0.9
    kinds = [type(e) for e in h.events if isinstance(e, (ev.Localised, ev.Reflected, ev.RunFinished))]
    assert kinds == [ev.Localised, ev.Reflected, ev.Reflected, ev.RunFinished]
    assert any(isinstance(e, ev.AttemptStarted) and e.attempt == 1 for e in h.events)
    # the run's artifacts are under runs/, with the secret redacted
    [run_dir] = h.settings.runs_dir.iterdir()
    assert json.loads((run_dir / "report.json").read_text())["success"] is True
    assert "sekrit-value-123" not in (run_dir / "trajectory.jsonl").read_text()
    assert title_in(h.model.prompts()[0])


def title_in(prompt: str) -> bool:
    return TITLE.strip() in prompt and "IGNORE ALL PREVIOUS" not in prompt


def test_failure_is_explained_plainly_and_config_is_honoured(tmp_path: Path) -> None:
    h = Harness(tmp_path, [fx.NO_EDIT, fx.FIX])
    outcome = h.run(RepoConfig(max_attempts=1, model="openai/per-repo", confidence=0.8))
    assert outcome.status is OutcomeStatus.FAILED and outcome.diff == ""
    assert outcome.explanation.startswith("None of the 1 attempt passed the tests.")
    assert "Attempt 1: the model's reply held no edit Repomind could read" in outcome.explanation
    assert h.models == ["openai/per-repo"] and len(h.model.conversations) == 1
    assert outcome.localisation is not None and outcome.localisation.confidence == 0.8


def test_a_wide_set_needs_a_hint_unless_anyway(tmp_path: Path) -> None:
    h = Harness(tmp_path, [fx.FIX], cal=WIDE)
    outcome = h.run(RepoConfig(max_set_size=2))
    assert outcome.status is OutcomeStatus.NEEDS_HINT and h.model.conversations == []
    assert outcome.localisation is not None and len(outcome.localisation.set or []) > 2
    assert "more than max_set_size (2)" in outcome.explanation
    outcome = h.run(RepoConfig(max_set_size=2), Hints(anyway=True))
    assert outcome.status is OutcomeStatus.SUCCESS


def test_pins_and_hint_reach_the_run(tmp_path: Path) -> None:
    h = Harness(tmp_path, [fx.FIX], cal=WIDE)
    hints = Hints(hint="it is the minus sign", include=("calc/ops.py",), exclude=("tests/__init__.py",))
    outcome = h.run(RepoConfig(max_set_size=2), hints)
    assert outcome.status is OutcomeStatus.SUCCESS
    loc = outcome.localisation
    assert loc is not None and loc.set and loc.set[0] == "calc/ops.py" and "tests/__init__.py" not in loc.set
    assert "<hint>\nit is the minus sign\n</hint>" in h.model.prompts()[0]


def test_cancel_and_no_model(tmp_path: Path) -> None:
    h = Harness(tmp_path, [fx.FIX])
    outcome = h.run(should_cancel=lambda: True)
    assert outcome.status is OutcomeStatus.CANCELLED and h.model.conversations == []
    outcome = h.run(run_config=RunConfig(model=None))
    assert outcome.status is OutcomeStatus.FAILED and outcome.explanation == NO_MODEL


def test_the_composition_builds_the_run_from_settings(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        model="openai/x",
        llm_api_base="http://127.0.0.1:9/v1",
        embedding_model="none",
        webhook_secret=SecretStr("a-long-webhook-secret"),
    )
    assert isinstance(make_pipeline(settings), SolvePipeline)
    parts = build_run(settings, resolve(settings, RepoConfig(model="openai/y")), sandbox=FakeSandbox())
    assert "a-long-webhook-secret" in parts.redact
    model: Any = parts.model
    assert (model.name, model.api_base) == ("openai/y", "http://127.0.0.1:9/v1")

    def localiser(config: RepoConfig, repo: str = "", installation: int | None = None, **kw: Any) -> Any:
        over = {**settings.model_dump(), **kw}
        return build_localiser(
            Settings(**over), resolve(settings, config), repo=repo, installation_id=installation
        )

    loc = localiser(RepoConfig(confidence=0.8, ignore_paths=["docs/"]))
    assert loc.calibration is None and loc.confidence == 0.8 and "docs/" in loc.ignore
    assert loc.embedder is None and loc.cache_dir == settings.data_dir / "index" / "local" / "_"
    # A run's index lives under its installation and repository, so that uninstalling deletes it.
    own = localiser(RepoConfig(), "acme/shop", 12)
    assert own.cache_dir == settings.data_dir / "index" / "installation-12" / "acme__shop"
    NARROW.save(settings.calibration_file)
    assert localiser(RepoConfig()).calibration.alphas == NARROW.alphas
    assert loc.reranker is None and loc.vector_server is None

    # REPOMIND_RERANK and REPOMIND_CHROMA_URL reach the localiser; the repository's model serves `llm`.
    shared = Settings(**{**settings.model_dump(), "rerank": "llm", "chroma_url": "http://chroma:8000"})
    with pytest.raises(LocaliseError, match="calibrate again with the same --rerank"):
        build_localiser(shared, resolve(shared, RepoConfig()))  # calibration.json was made without one
    settings.calibration_file.unlink()
    ranked: Any = build_localiser(shared, resolve(shared, RepoConfig(model="openai/repo-model")))
    assert ranked.reranker.name == "llm:openai/repo-model" and ranked.vector_server == "http://chroma:8000"


def test_budget_and_test_command_from_the_repository_config(tmp_path: Path) -> None:
    h = Harness(tmp_path, [fx.FIX])
    outcome = h.run(RepoConfig(budget_tokens=50))
    assert outcome.status is OutcomeStatus.FAILED and h.model.conversations == []
    assert outcome.explanation.startswith("The budget ran out before a patch passed:")
    command = f"{shlex.quote(sys.executable)} -m pytest tests/test_ops.py::test_add"  # run on the host
    outcome = h.run(RepoConfig(test_command=command))
    assert outcome.status is OutcomeStatus.SUCCESS
    assert any("tests/test_ops.py::test_add" in " ".join(argv) for argv in h.box.commands)
    assert outcome.evidence.fixed == ("tests/test_ops.py::test_add",)


def test_without_a_calibration_file_the_bot_uses_the_packaged_one(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", webhook_secret=SecretStr("a-long-webhook-secret"))

    def localiser(repo: str = "") -> Any:
        return build_localiser(settings, resolve(settings, RepoConfig()), repo=repo)

    loc = localiser()
    assert loc.embedder.name == "all-MiniLM-L6-v2-128"  # the packaged model (the embed extra)
    assert loc.calibration.alphas == Calibration.builtin().alphas
    NARROW.save(settings.calibration_file)  # a calibration of one's own wins
    assert localiser().calibration.alphas == NARROW.alphas
    # and a repository's own (calibrate --from-github) wins for that repository only
    WIDE.save(settings.data_dir / "calibrations" / "acme__shop.json")
    own, other = localiser("acme/shop"), localiser("acme/other")
    assert own.calibration.alphas == WIDE.alphas and other.calibration.alphas == NARROW.alphas


# -- the real pipeline and the fake tell the same story ---------------------------------------------------
def _kinds(events: list[ev.RunEvent]) -> list[str]:
    """The kinds of a run's events, a repeated kind once (the real run may rerun tests, the fake not)."""
    kinds: list[str] = []
    for event in events:
        name = type(event).__name__
        if not kinds or kinds[-1] != name:
            kinds.append(name)
    return kinds


def _fake_story(tmp_path: Path, pipeline: FakePipeline, **kw: Any) -> list[ev.RunEvent]:
    tree = make_git_repo(tmp_path / "fake-checkout", fx.FILES)
    seen: list[ev.RunEvent] = []
    config = resolve(Settings(model="scripted", strategy="pipeline"), RepoConfig())
    job = PipelineJob(tree, TITLE, BODY, config, Hints())
    pipeline.run(job, events=ev.RunEvents(seen.append), should_cancel=kw.get("should_cancel", lambda: False))
    return seen


def test_the_fake_pipeline_emits_the_same_kinds_as_the_real_one(tmp_path: Path) -> None:
    fixed = fx.FILES["calc/ops.py"].replace("return a - b", "return a + b")
    real = Harness(tmp_path, [fx.FIX])
    real.run()
    fake = _fake_story(tmp_path, FakePipeline(edits={"calc/ops.py": fixed}))
    assert _kinds(fake) == _kinds(real.events)
    assert _kinds(fake)[:4] == ["RunStarted", "Localised", "EnvironmentPreparing", "EnvironmentReady"]
    for story in (fake, real.events):
        [reflected] = [e for e in story if isinstance(e, ev.Reflected)]
        finished = story[-1]
        assert reflected.category is Category.PASSED
        assert isinstance(finished, ev.RunFinished) and finished.stopped is Stopped.PASSED
        assert finished.patch and "+    return a + b" in finished.patch


def test_a_failed_attempt_is_a_test_failure_in_both(tmp_path: Path) -> None:
    real = Harness(tmp_path, [fx.WRONG])
    real.run(RepoConfig(max_attempts=1))
    fake = _fake_story(tmp_path, FakePipeline(edits={"calc/ops.py": "x = 1\n"}, status=OutcomeStatus.FAILED))
    assert _kinds(fake) == _kinds(real.events)
    for story in (fake, real.events):
        assert [e.category for e in story if isinstance(e, ev.Reflected)] == [Category.TEST_FAILURE]
        finished = story[-1]
        assert isinstance(finished, ev.RunFinished) and finished.stopped is Stopped.ATTEMPTS_EXHAUSTED


def test_needs_hint_and_cancel_stories_match(tmp_path: Path) -> None:
    hint = Harness(tmp_path / "hint", [fx.FIX], cal=WIDE)
    hint.run(RepoConfig(max_set_size=2))
    cancelled = Harness(tmp_path / "cancel", [fx.FIX])
    cancelled.run(should_cancel=lambda: True)
    fake_hint = _fake_story(tmp_path / "fh", FakePipeline(status=OutcomeStatus.NEEDS_HINT))
    fake_cancel = _fake_story(tmp_path / "fc", FakePipeline(), should_cancel=lambda: True)
    short = ["RunStarted", "Localised", "RunFinished"]
    assert _kinds(hint.events) == _kinds(fake_hint) == short
    assert _kinds(cancelled.events) == _kinds(fake_cancel) == short
    for story, stopped in ((hint.events, Stopped.NEEDS_HINT), (fake_hint, Stopped.NEEDS_HINT)):
        finished = story[-1]
        assert isinstance(finished, ev.RunFinished) and finished.stopped is stopped
    for story in (cancelled.events, fake_cancel):
        finished = story[-1]
        assert isinstance(finished, ev.RunFinished) and finished.stopped is Stopped.CANCELLED

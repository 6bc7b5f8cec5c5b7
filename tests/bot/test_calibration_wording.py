"""The status comment and the PR say what a set's confidence rests on, or that nothing does."""

from __future__ import annotations

from pathlib import Path

from repomind.pipeline.localise.result import Localisation, RankedFile
from repomind.testing import FakePipeline
from tests.bot.conftest import FIXED
from tests.bot.helpers import REPO
from tests.bot.test_agent_views import run_job

FILES = [RankedFile("calc.py", 0.9), RankedFile("tests/test_calc.py", 0.4), RankedFile("setup.py", 0.1)]


def bodies(tmp_path: Path, loc: Localisation) -> tuple[str, str]:
    pipeline = FakePipeline(edits={"calc.py": FIXED}, localisation=loc, runs_dir=tmp_path / "runs")
    state, _ledger = run_job(tmp_path, pipeline)
    [pr] = state.pulls(REPO)
    [status] = [c.body for c in state.comments_on(REPO, 1) if "repomind:job:1" in c.body]
    return status, pr.body


def test_a_set_says_it_rests_on_the_repositorys_history(tmp_path: Path) -> None:
    loc = Localisation(FILES, ["calc.py"], 0.9, ["bm25"], calibration={"source": "history", "n": 412})
    status, pr = bodies(tmp_path, loc)
    for body in (status, pr):
        assert "With 90% confidence the change is in this file:" in body
        assert "<sub>Calibrated on 412 past changes of this repository. The coverage guarantee" in body


def test_a_shared_calibration_is_named_as_such(tmp_path: Path) -> None:
    loc = Localisation(FILES, ["calc.py"], 0.9, ["bm25"], calibration={"source": "shared", "n": 77})
    status, pr = bodies(tmp_path, loc)
    assert "Calibrated on 77 issues of other repositories (shared)." in status
    assert "Calibrated on 77 issues of other repositories (shared)." in pr


def test_without_a_good_enough_calibration_no_confidence_is_claimed(tmp_path: Path) -> None:
    note = "no calibration: history: 30 past changes of this repository, fewer than the 50 needed"
    loc = Localisation(FILES, None, 0.9, ["bm25"], note=note)
    status, pr = bodies(tmp_path, loc)
    for body in (status, pr):
        assert "% confidence" not in body and "Calibrated on" not in body
        assert f"No calibrated set could be made ({note}); the top-ranked files:" in body

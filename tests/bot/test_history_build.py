"""The history calibration is built in the background when a repository is first indexed by a job, once
per repository, and refreshed as the head moves; the job never waits for it."""

from __future__ import annotations

import threading
from pathlib import Path

from repomind.bot.solving.history_build import HistoryBuilds, Work
from repomind.pipeline.localise.history_calibration import ScoredHistory, history_file
from repomind.pipeline.solve.outcome import OutcomeStatus
from repomind.testing import git
from tests.bot.test_solve_pipeline import Harness
from tests.pipeline import solve_fixtures as fx


def fix(tree: Path, n: int) -> None:
    (tree / "calc" / "ops.py").write_text((tree / "calc" / "ops.py").read_text() + f"\n# fix {n}\n")
    git(tree, "add", "-A")
    git(tree, "commit", "-qm", f"add and sub of negative numbers, case {n}")


def test_the_build_starts_once_per_repository_after_the_job_localised_and_never_blocks_it(
    tmp_path: Path,
) -> None:
    pending: list[Work] = []
    h = Harness(tmp_path, [fx.FIX] * 4)
    builds = HistoryBuilds(start=pending.append, refresh_commits=2)
    h.pipeline.history = builds
    for n in range(3):
        fix(h.tree, n)
    git(h.tree, "reset", "-q", "--hard")

    # the job finishes while its build is still pending: it never waited for it
    assert h.run().status is OutcomeStatus.SUCCESS
    assert len(pending) == 1
    index_dir = h.settings.index_dir_for(None, "")
    assert builds.running() == {index_dir} and not history_file(index_dir).exists()
    # a second job of the repository while the build runs: no second build
    git(h.tree, "reset", "-q", "--hard")
    assert h.run().status is OutcomeStatus.SUCCESS
    assert len(pending) == 1

    pending.pop()()  # the build runs: the history is stored beside the index, the copy is gone
    scored = ScoredHistory.load(history_file(index_dir))
    assert scored.head == git(h.tree, "rev-parse", "HEAD").strip() and len(scored.entries) == 3
    assert scored.calibration().meta == {**(scored.calibration().meta or {}), "source": "history", "n": 3}
    assert builds.running() == set() and not list(h.tree.parent.glob(".history-*"))

    # fresh: the next job starts none; two commits later (refresh_commits), it is refreshed
    git(h.tree, "reset", "-q", "--hard")
    assert h.run().status is OutcomeStatus.SUCCESS and pending == []
    git(h.tree, "reset", "-q", "--hard")
    fix(h.tree, 3)
    fix(h.tree, 4)
    assert h.run().status is OutcomeStatus.SUCCESS and len(pending) == 1
    pending.pop()()
    refreshed = ScoredHistory.load(history_file(index_dir))
    assert len(refreshed.entries) == 5 and refreshed.meta["scored"] == 2


def test_a_build_runs_in_a_thread_of_its_own(tmp_path: Path) -> None:
    h = Harness(tmp_path, [fx.FIX])
    fix(h.tree, 0)
    started: list[threading.Thread] = []

    def start(work: Work) -> None:
        thread = threading.Thread(target=work)
        started.append(thread)
        thread.start()

    h.pipeline.history = HistoryBuilds(start=start)
    assert h.run().status is OutcomeStatus.SUCCESS
    [thread] = started
    thread.join(timeout=60)
    assert ScoredHistory.load(history_file(h.settings.index_dir_for(None, ""))).entries


def test_a_checkout_that_is_no_repository_starts_nothing_and_fails_nothing(tmp_path: Path) -> None:
    from repomind.pipeline.localise.localiser import IndexLocaliser

    pending: list[Work] = []
    builds = HistoryBuilds(start=pending.append)
    (tmp_path / "plain").mkdir()
    assert not builds.start(
        IndexLocaliser(tmp_path / "index", embedder=None), tmp_path / "plain", "acme/shop"
    )
    assert pending == [] and builds.running() == set()

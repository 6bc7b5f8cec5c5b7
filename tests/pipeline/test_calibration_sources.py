"""Which calibration a set rests on: github > history > shared (shift-robust) > none, with the 50-pair
floor and the held-out check; the quantiles against crepes; what the localiser and the composition report."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from repomind.compose import build_localiser, resolve
from repomind.pipeline.localise.calibrate import (
    SHIFT_ROBUST,
    Calibration,
    quantile,
    repository_of,
    shift_robust_quantile,
)
from repomind.pipeline.localise.calibration_source import (
    MIN_PAIRS,
    HeldOut,
    choose,
    commit_time,
    held_out_check,
)
from repomind.pipeline.localise.gitread import LocaliseError
from repomind.pipeline.localise.history_calibration import HistoryEntry, ScoredHistory, history_file
from repomind.pipeline.localise.localiser import IndexLocaliser
from repomind.repoconfig import RepoConfig
from repomind.settings import Settings
from repomind.testing import git, make_git_repo
from tests.pipeline.test_localise import FILES

ISSUE = "shipping_cost is wrong for heavy parcels"


def calibration(alphas: list[float], source: str | None = None, repo: str = "acme__shop") -> Calibration:
    meta = {"source": source} if source else None
    return Calibration(alphas, [f"{repo}-{i}" for i in range(len(alphas))], meta=meta)


def spread(n: int, top: float = 0.5) -> list[float]:
    """``n`` alphas evenly over [0, top]: exchangeable enough for any held-out check."""
    return [top * i / (n - 1) for i in range(n)]


def test_quantile_admits_exactly_what_crepes_admits() -> None:
    rng = random.Random(7)
    for n in (9, 10, 19, 50, 77):
        cal = Calibration([round(rng.random(), 2) for _ in range(n)], [f"a__b-{i}" for i in range(n)])
        tests = [round(rng.random(), 2) for _ in range(40)] + cal.alphas[:5]
        for confidence in (0.8, 0.85, 0.9, 0.95):
            fitted = cal._classifier()
            import numpy as np

            kept = fitted.predict_set(
                np.asarray(tests).reshape(1, -1), confidence=confidence, smoothing=False
            )[0]
            limit = quantile(cal.alphas, confidence)
            assert [bool(k) for k in kept] == [a <= limit for a in tests], (n, confidence)


def test_the_shift_robust_quantile_is_the_largest_leave_one_repository_out_quantile() -> None:
    easy, hard = [0.0] * 20, [0.3] * 10
    alphas, groups = easy + hard + [0.05] * 10, ["a"] * 20 + ["b"] * 10 + ["c"] * 10
    # Left out, the easy repository leaves the hard one a larger share: its quantile is the largest.
    assert shift_robust_quantile(alphas, groups, 0.9) == quantile(hard + [0.05] * 10, 0.9) == 0.3
    assert quantile(alphas, 0.9) == 0.3 and quantile(alphas, 0.7) == 0.05
    assert shift_robust_quantile(alphas, groups, 0.7) == 0.3  # where the plain one says 0.05
    assert shift_robust_quantile(alphas, ["a"] * 40, 0.7) == quantile(alphas, 0.7)  # one repository: plain
    assert repository_of("pytest-dev__pytest-5103") == "pytest-dev__pytest" and repository_of("abc") == "abc"
    shared = Calibration(
        alphas, [f"{g}__x-{i}" for i, g in enumerate(groups)], meta={"quantile": SHIFT_ROBUST}
    )
    assert shared.shift_robust and shared.threshold(0.7) == 0.3
    paths, scores = ["a.py", "b.py", "c.py"], [1.0, 0.8, 0.6]  # alphas 0, 0.2, 0.4
    assert shared.predict_set(paths, scores, 0.7) == ["a.py", "b.py"]
    assert shared.with_meta(quantile=None).predict_set(paths, scores, 0.7) == ["a.py"]


def test_source_and_n() -> None:
    assert calibration([0.1] * 3).source == "shared" and calibration([0.1] * 3).n == 3
    assert calibration([0.1], "history").source == "history"
    github = calibration(spread(60)).with_meta(source="github")
    assert github.source == "github" and github.describe() == (
        "60 issues of this repository closed by merged pull requests"
    )
    assert calibration(spread(60), "history").describe() == "60 past changes of this repository"


def test_the_order_is_github_history_shared_and_each_needs_fifty_pairs(tmp_path: Path) -> None:
    repo, commit = tmp_path, "c0ffee"
    shared = calibration(spread(77)).with_meta(quantile=SHIFT_ROBUST)
    github = calibration(spread(60), "github")
    history = calibration(spread(80), "history")
    asked: list[tuple[Path, str]] = []

    def from_history(clone: Path, rev: str) -> Calibration | None:
        asked.append((clone, rev))
        return history

    chosen = choose(github, from_history, repo, commit, 0.9)
    assert (chosen.source, chosen.n, chosen.calibration) == ("github", 60, github) and asked == []
    assert choose(shared, from_history, repo, commit, 0.9).to_json() == {"source": "history", "n": 80}
    assert asked == [(repo, commit)]  # the history before the revision localised
    assert choose(shared, lambda _r, _c: None, repo, commit, 0.9).to_json() == {"source": "shared", "n": 77}
    assert choose(shared, None, repo, commit, 0.9).calibration is shared

    # Fewer than 50 pairs: the next source serves, and with none left there is no set, said plainly.
    few = calibration(spread(MIN_PAIRS - 1), "github")
    assert choose(few, from_history, repo, commit, 0.9).source == "history"
    chosen = choose(few, lambda _r, _c: calibration(spread(30), "history"), repo, commit, 0.9)
    assert chosen.to_json() == {"source": "none", "n": 0} and chosen.calibration is None
    assert chosen.reason == (
        "github: 49 issues of this repository closed by merged pull requests, fewer than the 50 needed; "
        "history: 30 past changes of this repository, fewer than the 50 needed"
    )

    def broken(_r: Path, _c: str) -> Calibration | None:
        raise LocaliseError("history calibration h.json is not valid JSON")

    chosen = choose(shared, broken, repo, commit, 0.9)
    assert chosen.source == "shared"
    # A calibration the run names is taken as it is (the set then says what it rests on).
    assert choose(few, from_history, repo, commit, 0.9, gated=False).to_json() == {
        "source": "github",
        "n": 49,
    }
    assert choose(None, from_history, repo, commit, 0.9, gated=False).source == "none"


def test_a_calibration_whose_held_out_check_misses_is_refused() -> None:
    # Five repositories: four whose changed files rank first, one whose never do. Any four of them say
    # "0" is enough; left out, the fifth is never covered: the shared promise would not hold on it.
    groups = [f"r{k}" for k in range(5) for _ in range(12)]
    alphas = [0.0 if g != "r4" else 1.0 for g in groups]
    shared = Calibration(
        alphas, [f"{g}__x-{i}" for i, g in enumerate(groups)], meta={"quantile": SHIFT_ROBUST}
    )
    check = held_out_check(shared, 0.9)
    assert (check.by, check.n, check.coverage) == ("repository", 60, pytest.approx(48 / 60))
    assert check.error == pytest.approx(math.sqrt(0.9 * 0.1 / 60)) and check.misses
    chosen = choose(shared, None, Path("."), "c", 0.9)
    assert chosen.source == "none" and "held-out check (by repository) covered 0.80 at confidence 0.9" in (
        chosen.reason
    )
    # Exchangeable pairs pass the check by fold; a miss within the sampling error is no miss.
    plain = calibration(spread(60), "history")
    fold = held_out_check(plain, 0.9)
    assert fold.by == "fold" and fold.coverage >= 0.85 and not fold.misses
    assert not HeldOut(0.87, 100, 0.9, "fold").misses and HeldOut(0.869, 100, 0.9, "fold").misses


def _history(tmp_path: Path) -> tuple[Path, str, int]:
    repo = make_git_repo(tmp_path / "shop", FILES)
    commit = git(repo, "rev-parse", "HEAD").strip()
    return repo, commit, commit_time(repo, commit)


def _scored(at: int, before: int, after: int) -> ScoredHistory:
    entries = [HistoryEntry(f"{i:040x}", "p", at - 10 - i, 0.5 * i / before, 1) for i in range(before)]
    entries += [HistoryEntry(f"{i + before:040x}", "p", at + 10 + i, 0.0, 1) for i in range(after)]
    return ScoredHistory("acme/shop", "head", entries, {"embedder": "none", "reranker": "none"})


def test_the_bot_rests_on_the_history_before_the_revision_then_the_shared_one(tmp_path: Path) -> None:
    repo, commit, at = _history(tmp_path)
    settings = Settings(
        data_dir=tmp_path / "data", embedding_model="none", webhook_secret=SecretStr("a-long-webhook-secret")
    )
    calibration(spread(60), repo="other__one").save(settings.calibration_file)

    def localise(name: str = "acme/shop") -> Any:
        localiser = build_localiser(settings, resolve(settings, RepoConfig()), repo=name, installation_id=3)
        return localiser.localise(repo, ISSUE, commit)

    shared = localise()
    assert shared.calibration == {"source": "shared", "n": 60} and shared.set
    assert "60 issues, shift-robust quantile" in shared.note
    # The history stored beside the index: only the 55 changes made before the commit calibrate it.
    index_dir = settings.index_dir_for(3, "acme/shop")
    _scored(at, 55, 20).save(history_file(index_dir))
    found = localise()
    assert found.calibration == {"source": "history", "n": 55} and found.set
    assert "55 past changes of this repository" in found.note
    assert localise("acme/other").calibration["source"] == "shared"  # another repository's index
    # Too few changes before the revision: the shared calibration serves again.
    _scored(at, 40, 40).save(history_file(index_dir))
    assert localise().calibration == {"source": "shared", "n": 60}
    # The repository's own issues come first.
    calibration(spread(50)).save(settings.calibration_file_for("acme/shop"))
    assert localise().calibration == {"source": "github", "n": 50}
    # Nothing good enough: no set, and the note says why.
    calibration(spread(20)).save(settings.calibration_file)
    settings.calibration_file_for("acme/shop").unlink()
    none = localise()
    assert none.set is None and none.calibration == {"source": "none", "n": 0}
    assert none.note.startswith("no calibration: history: 40 past changes of this repository, fewer than")


def test_a_localiser_without_a_calibration_says_so(tmp_path: Path) -> None:
    repo, commit, _ = _history(tmp_path)
    loc = IndexLocaliser(tmp_path / "cache", embedder=None).localise(repo, ISSUE, commit)
    assert loc.set is None and loc.calibration == {"source": "none", "n": 0}
    assert loc.note.startswith("no calibration given")

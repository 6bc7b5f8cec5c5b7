"""The calibration from a repository's history: one scoring pass through moving snapshots, filtered by time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from repomind.pipeline.localise import localiser as localiser_module
from repomind.pipeline.localise.calibrate import SCORE_VERSION, Calibration, worst_alpha
from repomind.pipeline.localise.gitread import LocaliseError
from repomind.pipeline.localise.history_calibration import (
    HistoryEntry,
    ScoredHistory,
    history_file,
    score_history,
)
from repomind.pipeline.localise.history_commits import history_pairs
from repomind.pipeline.localise.localiser import IndexLocaliser
from repomind.testing import HashingEmbedder, git, make_git_repo
from tests.pipeline.history_fixture import commit
from tests.pipeline.test_localise import FILES
from tests.test_cli import run

LINE = "\n# changed\n"


def fixes(root: Path) -> list[str]:
    """Nine fixes, oldest first; the third modifies a file created (by a change that only adds it) after
    the first two."""
    make_git_repo(root, FILES)
    made = [
        commit(root, {"shop/pricing.py": LINE}, "apply_discount rounds zero rates wrongly"),
        commit(root, {"shop/cart.py": LINE}, "ShoppingCart total_price of an empty cart"),
    ]
    commit(root, {"shop/tax.py": "def vat(amount):\n    return amount * 0.2\n"}, "Add the value added tax")
    made += [
        commit(root, {"shop/tax.py": LINE}, "vat of a negative amount"),
        commit(root, {"shop/shipping.py": LINE}, "shipping_cost for parcels without weight"),
        commit(root, {"shop/users.py": LINE}, "Customer greeting is rude"),
        commit(root, {"shop/pricing.py": LINE}, "apply_discount with a rate above one"),
        commit(root, {"shop/cart.py": LINE}, "ShoppingCart total_price with discounts"),
        commit(root, {"shop/shipping.py": LINE}, "shipping_cost in pounds"),
        commit(root, {"shop/users.py": LINE, "shop/pricing.py": LINE}, "Customer discount greeting"),
    ]
    return made


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The commits the localiser builds (or moves) its index to, in order."""
    made: list[str] = []
    real = localiser_module.build_index

    def counting(repo: Path, rev: str | None, **kwargs: Any) -> Any:
        made.append(str(rev))
        return real(repo, rev, **kwargs)

    monkeypatch.setattr(localiser_module, "build_index", counting)
    return made


def test_one_pass_moves_the_index_through_snapshots_not_per_pair(tmp_path: Path, builds: list[str]) -> None:
    repo = tmp_path / "shop"
    made = fixes(repo)
    pairs = {p.commit: p for p in history_pairs(repo)}
    localiser = IndexLocaliser(tmp_path / "cache", embedder=HashingEmbedder())
    scored = score_history(repo, None, localiser, snapshot_every=4, repo="acme/shop")

    # one entry per pair, newest first, with the pair's time and number of files
    assert [e.commit for e in scored.entries] == made[::-1]
    assert [(e.parent, e.time, e.n_files) for e in scored.entries] == [
        (pairs[c].parent, pairs[c].time, len(pairs[c].files)) for c in made[::-1]
    ]
    # three snapshots for nine pairs: the first two changes on the oldest's parent; the third needs
    # shop/tax.py, which that snapshot lacks, so the index moves on early; then four, then three
    snapshots = [pairs[made[0]].parent, pairs[made[2]].parent, pairs[made[6]].parent]
    assert scored.meta["snapshots"] == snapshots
    assert builds == snapshots
    assert scored.meta["stale"] == 0 and scored.meta["pairs"] == 9
    assert scored.repo == "acme/shop" and scored.head == made[-1]
    assert scored.meta["embedder"] == "hashing-64" and scored.meta["reranker"] == "none"

    # a pair is ranked on its snapshot (from before it), not on its own parent
    fifth = pairs[made[4]]
    fresh = IndexLocaliser(tmp_path / "cache", embedder=HashingEmbedder())
    _, ranking = fresh.rank(repo, fifth.description, snapshots[1])
    entry = next(e for e in scored.entries if e.commit == fifth.commit)
    assert entry.alpha == worst_alpha(ranking.paths, ranking.scores, list(fifth.files))
    assert snapshots[1] != fifth.parent


def test_a_change_whose_file_its_snapshot_lacks_is_left_out(tmp_path: Path, builds: list[str]) -> None:
    repo = tmp_path / "shop"
    made = fixes(repo)
    localiser = IndexLocaliser(tmp_path / "cache", embedder=None)
    # with 20 pairs a snapshot, it serves at least 4 before moving on early: the tax fix is its third
    scored = score_history(repo, None, localiser, snapshot_every=20)
    assert scored.meta["stale"] == 1 and len(builds) == 1
    assert made[2] not in {e.commit for e in scored.entries}


def test_a_refresh_scores_only_the_new_changes(tmp_path: Path, builds: list[str]) -> None:
    repo = tmp_path / "shop"
    made = fixes(repo)
    localiser = IndexLocaliser(tmp_path / "cache", embedder=None)
    first = score_history(repo, made[-3], localiser, snapshot_every=100)
    assert first.meta["stale"] == 1  # the tax fix, whose file the one snapshot lacks
    builds.clear()
    newer = score_history(repo, None, localiser, snapshot_every=100, previous=first)
    # the two new changes, and the one left out before, on one snapshot: the oldest one's parent
    assert newer.meta["scored"] == 3 and builds == [git(repo, "rev-parse", f"{made[2]}^").strip()]
    assert [e.commit for e in newer.entries] == made[::-1]
    assert [e for e in newer.entries if e.commit != made[2]][2:] == first.entries


def _scored() -> ScoredHistory:
    entries = [
        HistoryEntry("c" * 40, "b" * 40, 300, 0.5, 1),
        HistoryEntry("b" * 40, "a" * 40, 200, 0.25, 2),
        HistoryEntry("a" * 40, "9" * 40, 100, 0.0, 1),
    ]
    meta = {"embedder": "none", "reranker": "none", "weights": {"bm25": 2.5}, "seconds": 1.0}
    return ScoredHistory("acme/shop", "d" * 40, entries, meta)


def test_the_calibration_uses_only_changes_before_the_revision_and_not_excluded_ones() -> None:
    scored = _scored()
    everything = scored.calibration()
    assert everything.alphas == [0.5, 0.25, 0.0]
    assert everything.meta is not None
    assert everything.meta["source"] == "history" and everything.meta["n"] == 3
    assert everything.meta["repo"] == "acme/shop" and everything.meta["head"] == "d" * 40
    assert everything.made_with() == ("none", "none") and everything.weights() == {"bm25": 2.5}

    before = scored.calibration(before=250)
    assert before.instances == ["b" * 40, "a" * 40] and before.meta is not None and before.meta["n"] == 2
    assert scored.calibration(before=200).alphas == [0.0]  # strictly before
    # an instance's own fix, by full SHA or a prefix
    assert scored.calibration(exclude=["b" * 40]).alphas == [0.5, 0.0]
    assert scored.calibration(exclude=["ccccccc"]).alphas == [0.25, 0.0]


def test_the_scored_history_round_trips_and_refuses_other_score_versions(tmp_path: Path) -> None:
    scored = _scored()
    path = history_file(tmp_path / "index")
    assert path == tmp_path / "index" / "history-calibration.json"
    scored.save(path)
    assert ScoredHistory.load(path) == scored
    data = json.loads(path.read_text())
    data["score_version"] = SCORE_VERSION - 1
    path.write_text(json.dumps(data))
    with pytest.raises(LocaliseError, match="scored again"):
        ScoredHistory.load(path)
    with pytest.raises(LocaliseError, match="does not exist"):
        ScoredHistory.load(tmp_path / "missing.json")


def test_calibrate_from_history_writes_a_loadable_calibration(tmp_path: Path) -> None:
    repo = tmp_path / "shop"
    made = fixes(repo)
    out = tmp_path / "cal" / "shop.json"
    env = {"REPOMIND_DATA_DIR": str(tmp_path / "data"), "REPOMIND_EMBEDDING_MODEL": "none"}
    res = run("calibrate", "--from-history", "--repo", str(repo), "--rev", made[-2], "--out", str(out), env=env)
    assert res.returncode == 0, res.stderr
    calibration = Calibration.load(out)
    assert calibration.meta is not None
    # eight changes up to --rev; the tax fix is left out: its file is newer than the one snapshot
    assert calibration.meta["source"] == "history" and calibration.meta["n"] == 7 == len(calibration.alphas)
    assert calibration.made_with() == ("none", "none")
    scored = ScoredHistory.load(out.with_name("shop.history.json"))
    assert scored.head == made[-2] and len(scored.entries) == 7
    assert "calibrated on 7 past changes of shop (1 left out" in res.stderr

    res = run("calibrate", "--from-history", "--from-github", "acme/shop", "--repo", str(repo), "--out", str(out))
    assert res.returncode != 0 and "--from-history takes --repo" in res.stderr

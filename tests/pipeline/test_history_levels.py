"""The level asked of a repository's history: learnt from where dev issues fall among their own
repository's past changes, never from the repository judged, used by the sets and by the held-out check."""

from __future__ import annotations

import json
import math
import zlib
from pathlib import Path

import pytest

from repomind.pipeline.localise.calibrate import (
    SCORE_VERSION,
    SHIFT_ROBUST,
    Calibration,
    at_level,
    nonconformity,
    quantile,
)
from repomind.pipeline.localise.calibration_source import choose, held_out_check, shortfall
from repomind.pipeline.localise.gitread import LocaliseError
from repomind.pipeline.localise.history_calibration import HistoryEntry, ScoredHistory
from repomind.pipeline.localise.history_levels import HistoryLevels, builtin_levels, placement
from repomind.pipeline.localise.rank import DEFAULT_WEIGHTS

GUARD = Path(__file__).parents[1] / "fixtures" / "localise" / "history-levels-guard.json"


def scored(repo: str, alphas: list[float], times: list[int] | None = None) -> ScoredHistory:
    entries = [
        HistoryEntry(f"{i:040x}", f"{i + 1:040x}", (times or list(range(len(alphas))))[i], a, 1)
        for i, a in enumerate(alphas)
    ]
    return ScoredHistory(repo, "f" * 40, entries, {})


def test_placement_and_the_quantile_at_a_level() -> None:
    history = [0.1, 0.2, 0.2, 0.4]
    assert placement(0.0, history) == 0.0 and placement(0.5, history) == 1.0
    assert placement(0.2, history) == 0.5  # one below, two ties counted half
    with pytest.raises(LocaliseError):
        placement(0.1, [])
    tenths = [i / 10 for i in range(10, 0, -1)]
    assert at_level(tenths, 0.73) == 0.8  # the smallest alpha with 73% at or below it
    assert at_level(tenths, 0.7) == 0.7 and at_level(tenths, 0.0) == 0.1
    assert at_level(tenths, math.inf) == math.inf and at_level(tenths, -math.inf) == -math.inf


def test_the_packaged_placements_say_how_they_were_made() -> None:
    levels = builtin_levels()
    meta = levels.meta
    assert meta["score_version"] == SCORE_VERSION and meta["embedder"] == "all-MiniLM-L6-v2-128"
    assert meta["reranker"] == "none" and meta["weights"] == DEFAULT_WEIGHTS
    assert {"limit", "max_files", "min_pairs", "made_by"} <= set(meta)
    values = levels.values()
    assert len(values) == meta["issues"] >= 40 and len(levels.placements) >= 10
    assert all(0.0 <= u <= 1.0 for u in values)
    # Issues rank their files better than commit messages do: the level asked is below the confidence.
    assert levels.level(0.9) < 0.85 and levels.level(0.8) <= levels.level(0.9) <= levels.level(0.95)
    assert levels.level(0.9) == quantile(values, 0.9)


def test_a_repository_is_never_judged_with_its_own_placements(tmp_path: Path) -> None:
    levels = HistoryLevels({"acme/shop": [0.99] * 20, "other/one": [0.1] * 20}, {"note": "made here"})
    path = tmp_path / "levels.json"
    levels.save(path)
    assert HistoryLevels.load(path) == levels
    assert sorted(levels.without("acme__shop").placements) == ["other/one"]
    history = scored("acme/shop", [i / 100 for i in range(100)])
    own = history.calibration(levels=levels)
    assert own.meta is not None and own.meta["level"]["repos"] == ["other/one"]
    assert own.level(0.9) == 0.1  # only the other repository's placements
    packaged = scored("psf/requests", [0.5] * 60).calibration()
    assert packaged.meta is not None and "psf/requests" not in packaged.meta["level"]["repos"]
    assert len(packaged.meta["level"]["repos"]) == len(builtin_levels().placements) - 1
    plain = history.calibration(corrected=False)
    assert plain.level_placements is None and plain.level(0.9) == 0.9


def test_a_history_calibration_sets_use_the_level() -> None:
    alphas = [i / 100 for i in range(100)]
    levels = HistoryLevels({"other/one": [i / 40 for i in range(20)]}, {})
    corrected = scored("acme/shop", alphas).calibration(levels=levels)
    plain = scored("acme/shop", alphas).calibration(corrected=False)
    level = quantile(levels.values(), 0.9)
    assert corrected.threshold(0.9) == at_level(alphas, level) < plain.threshold(0.9)
    scores = [1.0 - i / 12 for i in range(12)]
    paths = [f"f{i}.py" for i in range(12)]
    kept = corrected.predict_set(paths, scores, 0.9)
    assert kept is not None
    file_alphas = nonconformity(scores, len(paths))
    assert kept == [p for p, a in zip(paths, file_alphas, strict=True) if a <= corrected.threshold(0.9)]
    wider = plain.predict_set(paths, scores, 0.9)
    assert wider is not None and len(kept) < len(wider)
    # Saved and loaded (as `calibrate --from-history --out` writes it), the level goes with it.
    assert Calibration(corrected.alphas, corrected.instances, meta=corrected.meta).threshold(0.9) == (
        corrected.threshold(0.9)
    )


def test_the_held_out_check_judges_a_history_at_its_level() -> None:
    levels = HistoryLevels({"other/one": [i / 80 for i in range(40)]}, {})
    exchangeable = scored("acme/shop", [(i * 37 % 101) / 101 for i in range(200)]).calibration(levels=levels)
    check = held_out_check(exchangeable, 0.9)
    assert check.target == exchangeable.level(0.9) and check.expected < 0.9
    assert not check.misses and shortfall(exchangeable, 0.9) == ""
    # Past changes that are not exchangeable (the alphas of one fold of two low, the other's high): the
    # high fold is missed by a threshold fitted on the low one, and coverage is far below the level.
    folds = 2
    alphas = [float(zlib.crc32(f"{i:040x}".encode()) % folds) for i in range(200)]
    high = HistoryLevels({"other/one": [0.74] * 40}, {})  # about the dev set's level at 0.9
    skewed = scored("acme/shop", alphas).calibration(levels=high)
    missed = held_out_check(skewed, 0.9, folds=folds)
    assert missed.misses and missed.target == 0.74 and missed.coverage < 0.6


def test_a_history_like_the_dev_sets_gets_sets_near_the_shared_calibrations() -> None:
    """The regression guard: two dev repositories' real scored histories and their issues' rankings.
    Calibrated on its history before each issue (leaving its own placements out, as for a repository the
    packaged levels never saw), a set at 0.9 is chosen and is not an order of magnitude wider than the
    shared calibration's; the uncorrected history's sets were (100 files of 100 ranked on astropy)."""
    data = json.loads(GUARD.read_text())
    shared = Calibration.builtin().with_meta(source="shared", quantile=SHIFT_ROBUST)
    sizes: dict[str, list[int]] = {"shared": [], "history": [], "uncorrected": []}
    covered = 0
    for repo, found in data["repos"].items():
        history = ScoredHistory(
            repo,
            "f" * 40,
            [HistoryEntry(f"{i:040x}", "", t, a, n) for i, (t, a, n) in enumerate(found["entries"])],
            {},
        )
        for issue in found["issues"]:
            paths = [f"f{i}.py" for i in range(len(issue["scores"]))]
            corrected = history.calibration(before=issue["before"])
            if corrected.n < 50:
                continue  # too little history before it: the shared calibration serves
            chosen = choose(shared, lambda _r, _c, c=corrected: c, Path("."), "c" * 40, 0.9)
            assert chosen.source == "history", chosen.reason
            for name, calibration in (
                ("shared", shared),
                ("history", corrected),
                ("uncorrected", history.calibration(before=issue["before"], corrected=False)),
            ):
                kept = calibration.predict_set(paths, issue["scores"], 0.9)
                assert kept is not None
                sizes[name].append(len(kept))
                if name == "history":
                    covered += all(r is not None and r < len(kept) for r in issue["gold_ranks"])
    mean = {name: sum(s) / len(s) for name, s in sizes.items()}
    assert len(sizes["history"]) == 10 and covered >= 9
    assert mean["history"] < 10 * mean["shared"], mean
    assert mean["uncorrected"] > 10 * mean["shared"], mean  # what the guard guards against

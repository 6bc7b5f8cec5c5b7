"""Conformal calibration: coverage on exchangeable data, too little data, files from another version."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from repomind.pipeline.localise.calibrate import (
    HEAD,
    LEFT_OUT,
    SCORE_VERSION,
    Calibration,
    minimum_size,
    nonconformity,
    worst_alpha,
)
from repomind.pipeline.localise.gitread import LocaliseError
from repomind.pipeline.localise.rank import DEFAULT_WEIGHTS


def _issue(rng: random.Random, n_files: int = 40) -> tuple[list[str], list[float], list[str]]:
    """A ranking whose gold file sits at a random, mostly high, position."""
    paths = [f"f{i}.py" for i in range(n_files)]
    scores = sorted((rng.random() ** 2 for _ in range(n_files)), reverse=True)
    gold = paths[min(int(rng.expovariate(0.5)), n_files - 1)]
    return paths, scores, [gold]


def test_sets_cover_the_changed_files_at_the_confidence_asked() -> None:
    rng = random.Random(7)
    calibration_issues = [_issue(rng) for _ in range(400)]
    calibration = Calibration([worst_alpha(*issue) for issue in calibration_issues], ["x"] * 400)
    test_issues = [_issue(rng) for _ in range(400)]
    sets = [calibration.predict_set(p, s, 0.9) for p, s, _ in test_issues]
    covered = [
        all(g in chosen for g in gold)
        for chosen, (_, _, gold) in zip(sets, test_issues, strict=True)
        if chosen
    ]
    assert len(covered) == 400
    assert 0.86 <= sum(covered) / 400 <= 0.95
    sizes = [len(s or []) for s in sets]
    assert 1 <= sum(sizes) / len(sizes) < 40  # smaller than everything, and never empty on average
    looser = [calibration.predict_set(p, s, 0.5) for p, s, _ in test_issues]
    assert sum(len(s or []) for s in looser) < sum(sizes)


def test_several_changed_files_are_calibrated_on_the_worst_ranked() -> None:
    paths = ["a.py", "b.py", "c.py"]
    scores = [1.0, 0.5, 0.25]
    assert worst_alpha(paths, scores, ["a.py", "c.py"]) == pytest.approx(0.75)
    assert worst_alpha(paths, scores, ["a.py", "missing.py"]) == LEFT_OUT


def test_below_the_head_files_are_judged_by_rank() -> None:
    # A flat tail: 40 files scoring about alike below a clear head.
    scores = [1.0, 0.6, 0.5] + [0.4 - i * 0.001 for i in range(37)]
    alphas = nonconformity(scores, 45)
    assert alphas[:HEAD].tolist() == pytest.approx([1 - s for s in scores[:HEAD]])
    tail = alphas[HEAD:40]
    assert all(1 < a < 2 for a in tail) and list(tail) == sorted(tail)  # in rank order, after the head
    assert alphas[40:].tolist() == [LEFT_OUT] * 5  # not ranked at all
    # A ranking cut short gives the files it keeps the same alphas.
    assert nonconformity(scores[:20], 45)[:20].tolist() == alphas[:20].tolist()
    paths = [f"f{i}.py" for i in range(45)]
    # Calibration issues whose changed file ranks 15th: a set takes the 15 best files, not the whole tail
    # that scores about as low.
    hard = Calibration([worst_alpha(paths, scores, ["f14.py"])] * 20, ["i"] * 20)
    assert hard.predict_set(paths, scores, 0.9) == paths[:15]
    # With every calibration issue's file in the head, sets stop inside it.
    easy = Calibration([worst_alpha(paths, scores, ["f1.py"])] * 20, ["i"] * 20)
    assert easy.predict_set(paths, scores, 0.9) == paths[:2]


def test_too_little_calibration_data_gives_no_set_and_says_why() -> None:
    calibration = Calibration([0.1, 0.2, 0.3], ["a", "b", "c"])
    assert minimum_size(0.9) == 10 and minimum_size(0.8) == 5
    assert calibration.predict_set(["a.py", "b.py"], [1.0, 0.5], 0.9) is None
    assert "3 calibration issues cannot support confidence 0.9" in calibration.too_small_reason(0.9)
    assert calibration.predict_set(["a.py", "b.py"], [1.0, 0.5], 0.5) is not None
    enough = Calibration([0.0] * 10, ["i"] * 10)
    assert enough.predict_set(["a.py", "b.py"], [1.0, 0.5], 0.9) == ["a.py"]


def test_a_calibration_file_from_another_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "calibration.json"
    Calibration([0.1] * 20, ["i"] * 20).save(path)
    assert Calibration.load(path).alphas == [0.1] * 20
    data = json.loads(path.read_text())
    data["score_version"] = SCORE_VERSION + 1
    path.write_text(json.dumps(data))
    with pytest.raises(LocaliseError, match="run `repomind calibrate` again"):
        Calibration.load(path)
    path.write_text("{not json")
    with pytest.raises(LocaliseError, match="not valid JSON"):
        Calibration.load(path)
    with pytest.raises(LocaliseError, match="does not exist"):
        Calibration.load(tmp_path / "missing.json")


def test_the_packaged_calibration_is_current_and_says_what_made_it() -> None:
    builtin = Calibration.builtin()  # refused, like any file, if the scores' version moved on
    assert builtin.score_version == SCORE_VERSION
    assert len(builtin.alphas) >= minimum_size(0.9) and len(builtin.alphas) == len(builtin.instances)
    assert builtin.made_with() == ("all-MiniLM-L6-v2-128", "none")
    # Made with the fusion weights of this version: changing them means making it again (README).
    assert builtin.weights() == DEFAULT_WEIGHTS
    assert builtin.describe() == f"{len(builtin.alphas)} issues of swebench-lite-dev.jsonl"
    # It yields sets: a clear head gives a small one, a flat ranking a wider one.
    paths = [f"f{i}.py" for i in range(50)]
    clear = builtin.predict_set(paths, [1.0, 0.2] + [0.1] * 48, 0.9)
    flat = builtin.predict_set(paths, [1.0 - i / 100 for i in range(50)], 0.9)
    assert clear is not None and flat is not None and len(clear) < len(flat)

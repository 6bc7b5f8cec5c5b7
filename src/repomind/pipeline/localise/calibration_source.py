"""Which calibration a set rests on, and whether it is good enough to claim a confidence.

In order: the repository's own issues closed by merged pull requests (``calibrate --from-github``, source
``github``), the repository's history before the revision being localised (source ``history``), the shared
calibration with a shift-robust quantile (source ``shared``), and no set (source ``none``) when none of them
is good enough: fewer than :data:`MIN_PAIRS` pairs, or a held-out check that misses the confidence by more
than its sampling error (the binomial standard error at that many pairs). A calibration the run names
itself (``--calibration``) is taken as it is.
"""

from __future__ import annotations

import math
import subprocess
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repomind.pipeline.localise.calibrate import (
    Calibration,
    at_level,
    quantile,
    repository_of,
    shift_robust_quantile,
)
from repomind.pipeline.localise.gitread import LocaliseError
from repomind.sandbox.hostenv import git_env

SOURCES = ("github", "history", "shared", "none")
#: The fewest pairs a calibration chosen automatically must have.
MIN_PAIRS = 50
#: Folds of the held-out check (by repository for a shift-robust shared calibration).
FOLDS = 5
#: The calibration of a repository's history before ``commit``: (clone, commit) → calibration or None
#: (not built yet). Raises :class:`LocaliseError` when the stored history cannot be used.
HistorySource = Callable[[Path, str], Calibration | None]


@dataclass(frozen=True)
class HeldOut:
    """Coverage of a calibration's pairs, each judged by a calibration on the pairs of other folds."""

    coverage: float
    n: int
    confidence: float
    by: str  # "repository" or "fold"
    #: The coverage the held-out pairs should have: ``confidence``, or for a history calibration with a
    #: level learnt from issues (``meta["level"]``), that level (its past changes are covered at it).
    target: float | None = None

    @property
    def expected(self) -> float:
        return self.confidence if self.target is None else min(1.0, max(0.0, self.target))

    @property
    def error(self) -> float:
        """The binomial standard error of a coverage of ``expected`` measured on ``n`` pairs."""
        return math.sqrt(self.expected * (1 - self.expected) / self.n) if self.n else math.inf

    @property
    def misses(self) -> bool:
        return self.expected - self.coverage > self.error + 1e-12


def held_out_check(calibration: Calibration, confidence: float, folds: int = FOLDS) -> HeldOut:
    """A shift-robust calibration leaves each repository out in turn (its promise is about repositories it
    has not seen); any other is split into ``folds`` by a hash of the instance id. A history calibration
    with a level (``meta["level"]``) is judged the same way at that level: each fold's threshold is the
    level's quantile of the other folds' alphas, and its coverage must reach the level (the promise about
    issues rests on the placements the level came from, measured leaving each dev repository out)."""
    levelled = calibration.level_placements is not None
    level = calibration.level(confidence) if levelled else confidence
    alphas = calibration.alphas
    instances = list(calibration.instances) + [str(i) for i in range(len(calibration.instances), len(alphas))]
    groups = [repository_of(i) for i in instances[: len(alphas)]]
    by = "repository" if calibration.shift_robust and len(set(groups)) > 1 else "fold"
    if by == "fold":
        groups = [str(zlib.crc32(i.encode()) % folds) for i in instances[: len(alphas)]]
    covered = 0
    for name in set(groups):
        rest = [(a, g) for a, g in zip(alphas, groups, strict=True) if g != name]
        if by == "repository":
            limit = shift_robust_quantile([a for a, _ in rest], [g for _, g in rest], confidence)
        elif levelled:
            limit = at_level([a for a, _ in rest], level)
        else:
            limit = quantile([a for a, _ in rest], confidence)
        covered += sum(1 for a, g in zip(alphas, groups, strict=True) if g == name and a <= limit)
    target = level if levelled else None
    return HeldOut(covered / len(alphas) if alphas else 0.0, len(alphas), confidence, by, target)


def shortfall(calibration: Calibration, confidence: float) -> str:
    """Why ``calibration`` cannot stand behind a set at ``confidence`` ("" when it can)."""
    if calibration.n < MIN_PAIRS:
        return f"{calibration.describe()}, fewer than the {MIN_PAIRS} needed"
    check = held_out_check(calibration, confidence)
    if check.misses:
        return (
            f"{calibration.describe()}, whose held-out check (by {check.by}) covered {check.coverage:.2f} at "
            f"confidence {confidence:g}"
            + (f" (level {check.expected:.2f} of its past changes)" if check.target is not None else "")
            + f", more than its sampling error (±{check.error:.2f}) short"
        )
    return ""


@dataclass(frozen=True)
class Chosen:
    """The calibration a set rests on (None: no set), its source and how many pairs it holds."""

    calibration: Calibration | None
    source: str
    n: int
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "n": self.n}


NONE = Chosen(None, "none", 0, "no calibration given")


def choose(
    fixed: Calibration | None,
    history: HistorySource | None,
    repo: Path,
    commit: str,
    confidence: float,
    *,
    gated: bool = True,
) -> Chosen:
    """The first good enough of: ``fixed`` when it is the repository's own (``github``), the history
    before ``commit``, ``fixed`` when shared. ``gated`` False (the run named it): ``fixed`` as it is."""
    if not gated:
        return NONE if fixed is None else Chosen(fixed, fixed.source, fixed.n)
    candidates: list[tuple[str, Callable[[], Calibration | None]]] = []
    if fixed is not None and fixed.source != "shared":
        candidates.append((fixed.source, lambda: fixed))
    if history is not None:
        candidates.append(("history", lambda: history(repo, commit)))
    if fixed is not None and fixed.source == "shared":
        candidates.append(("shared", lambda: fixed))
    reasons = []
    for source, get in candidates:
        try:
            calibration = get()
        except LocaliseError as exc:
            reasons.append(f"{source}: {exc}")
            continue
        if calibration is None:
            continue
        problem = shortfall(calibration, confidence)
        if not problem:
            return Chosen(calibration, source, calibration.n)
        reasons.append(f"{source}: {problem}")
    return Chosen(None, "none", 0, "; ".join(reasons) or NONE.reason)


def commit_time(repo: Path, commit: str) -> int:
    """The committer time of ``commit`` (unix seconds): history after it is not used to calibrate it."""
    proc = subprocess.run(
        ["git", "-C", str(repo), "show", "-s", "--format=%ct", commit],
        capture_output=True,
        text=True,
        check=False,
        env=git_env(),
    )
    if proc.returncode != 0 or not proc.stdout.strip().isdigit():
        raise LocaliseError(f"cannot read the time of commit {commit[:12]} in {repo}")
    return int(proc.stdout.strip())

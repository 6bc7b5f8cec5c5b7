"""Conformal prediction (crepes) from fused scores to the smallest file set that holds every file to change.

Each calibration issue contributes one nonconformity score: that of its worst-ranked changed file, so a
set covers an issue only when it holds all of its files. A test file joins the set when its p-value against
those scores is at least 1 - confidence. The guarantee is marginal and assumes exchangeability.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from repomind.pipeline.localise.gitread import LocaliseError

FORMAT = "repomind-calibration"
#: Fitted by ``repomind calibrate`` on the SWE-bench Lite dev split with the packaged embedder and no
#: re-ranker (the README gives the command); used where no calibration of one's own is configured.
BUILTIN = Path(__file__).parent / "calibrations" / "swebench-lite-dev.json"
# Bump when scores change meaning (ranking, fusion or nonconformity): older files are then refused.
SCORE_VERSION = 3
#: How many of a ranking's files are judged by their score; below them, files follow in rank order.
HEAD = 10
#: The nonconformity of a file the ranking left out (or of a changed file it does not hold).
LEFT_OUT = 2.0
#: ``meta["quantile"]`` of a calibration whose sets use :func:`shift_robust_quantile`.
SHIFT_ROBUST = "shift-robust"


def nonconformity(scores: list[float], n_files: int) -> np.ndarray:
    """alpha of every file, best first: ``1 - score / best score`` in the head (the top ``HEAD``); below
    it, by rank alone, ``2 - 1 / (k + 1)`` for the k-th file below the head (1.5, 1.67, ...), after every
    head file; ``LEFT_OUT`` for files not ranked. A file's alpha depends only on its own rank and the
    head's scores, so a ranking cut short (the top 100 in a report) gives its files the same alphas.

    Below the head, score ratios say little (the fused scores are flat there), and judging those files by
    rank keeps a set from taking in every file that scores about as low as a hard issue's changed file:
    when the calibration holds enough issues whose files rank in the head, sets stop at ``HEAD`` files.
    """
    alphas = np.full(max(n_files, len(scores)), LEFT_OUT, dtype=float)
    if scores and scores[0] > 0:
        ranked = np.asarray(scores, dtype=float)
        alphas[: len(ranked)] = 1.0 - ranked / ranked[0]
        below = len(ranked) - HEAD
        if below > 0:
            alphas[HEAD : len(ranked)] = 2.0 - 1.0 / np.arange(2, below + 2)
    return alphas


def worst_alpha(paths: list[str], scores: list[float], gold: list[str]) -> float:
    """The alpha of the worst-ranked changed file (``LEFT_OUT`` when one is missing from the ranking)."""
    alphas = nonconformity(scores, len(paths))
    position = {p: i for i, p in enumerate(paths)}
    return max(float(alphas[position[g]]) if g in position else LEFT_OUT for g in gold)


def quantile(alphas: Sequence[float], confidence: float) -> float:
    """The largest alpha a set at ``confidence`` takes in (``inf``: every file): what crepes' unsmoothed
    p-value ``(#{calibration alpha >= a} + 1) / (n + 1) >= 1 - confidence`` admits."""
    ordered, n = sorted(alphas), len(alphas)
    needed = max(0, math.floor((1.0 - confidence) * (n + 1)) - 2)  # then up, as crepes compares floats
    while (needed + 1) / (n + 1) < 1 - confidence:
        needed += 1
    return math.inf if needed == 0 else ordered[n - needed] if needed <= n else -math.inf


def at_level(alphas: Sequence[float], level: float) -> float:
    """The ``level``-quantile of ``alphas`` (the smallest alpha with at least that fraction at or below
    it); ``inf`` (every file) for a level of ``inf``, ``-inf`` (no file) for ``-inf`` or no alphas."""
    if level == math.inf:
        return math.inf
    ordered = sorted(alphas)
    if level == -math.inf or not ordered:
        return -math.inf
    return ordered[min(len(ordered) - 1, max(0, math.ceil(level * len(ordered) - 1e-9) - 1))]


def repository_of(instance: str) -> str:
    """``owner__name`` of a SWE-bench-style instance id (``owner__name-1234``); the id itself otherwise."""
    head, _, number = instance.rpartition("-")
    return head if head and number.isdigit() else instance


def shift_robust_quantile(alphas: Sequence[float], groups: Sequence[str], confidence: float) -> float:
    """The largest of the leave-one-repository-out quantiles: the threshold that would have held had any
    one of the calibration's repositories been the unseen one (the plain quantile with one repository)."""
    names = sorted(set(groups))
    if len(names) < 2:
        return quantile(alphas, confidence)
    return max(
        quantile([a for a, g in zip(alphas, groups, strict=True) if g != name], confidence) for name in names
    )


def minimum_size(confidence: float) -> int:
    """The fewest calibration issues for which a set at ``confidence`` can be anything but every file."""
    # The smallest p-value n issues give is 1/(n+1); a file is left out only when it is below 1 - confidence.
    return math.floor(1.0 / (1.0 - confidence) + 1e-9)


def write_versioned(path: Path, data: dict[str, Any], *, indent: int = 1) -> None:
    """Write a versioned JSON file (``format`` and ``score_version`` in ``data``) whole: a reader never
    sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data, indent=indent))
    temporary.replace(path)


def read_versioned(path: Path, *, fmt: str, kind: str, again: str) -> dict[str, Any]:
    """The object of the JSON file ``path`` written with format ``fmt`` on this :data:`SCORE_VERSION`.

    Raises :class:`LocaliseError` naming ``kind`` when the file is missing, not JSON, of another format,
    or of another score version (``again`` says what to do then)."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise LocaliseError(f"{kind} {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise LocaliseError(f"{kind} {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise LocaliseError(f"{path} is not a Repomind {kind}")
    if data.get("score_version") != SCORE_VERSION:
        raise LocaliseError(
            f"{path} was made from scores of version {data.get('score_version')}, this Repomind "
            f"scores with version {SCORE_VERSION}: {again}"
        )
    return data


@dataclass
class Calibration:
    alphas: list[float]
    instances: list[str]
    score_version: int = SCORE_VERSION
    meta: dict[str, Any] | None = None
    _fitted: Any = field(default=None, init=False, repr=False, compare=False)

    def save(self, path: Path) -> None:
        data = {
            "format": FORMAT,
            "score_version": self.score_version,
            "nonconformity": "worst changed file, 1 - score/top score in the top 10, then by rank",
            "n": len(self.alphas),
            "alphas": self.alphas,
            "instances": self.instances,
            "meta": self.meta or {},
        }
        write_versioned(path, data)

    @classmethod
    def load(cls, path: Path) -> Calibration:
        data = read_versioned(
            path, fmt=FORMAT, kind="calibration file", again="run `repomind calibrate` again"
        )
        return cls(
            [float(a) for a in data["alphas"]], list(data["instances"]), SCORE_VERSION, data.get("meta")
        )

    @classmethod
    def builtin(cls) -> Calibration:
        """The packaged calibration (SWE-bench Lite dev, packaged embedder, no re-ranker)."""
        return cls.load(BUILTIN)

    @property
    def source(self) -> str:
        """Where the calibration's pairs come from: ``github``, ``history`` or ``shared`` (the default)."""
        return str((self.meta or {}).get("source") or "shared")

    @property
    def n(self) -> int:
        return len(self.alphas)

    @property
    def level_placements(self) -> list[float] | None:
        """With ``meta["level"]`` (a history calibration, see :mod:`.history_levels`): the placements whose
        conformal quantile is the level asked of these alphas; None for a plain calibration."""
        level = (self.meta or {}).get("level")
        if not isinstance(level, dict) or not isinstance(level.get("placements"), list):
            return None
        return [float(u) for u in level["placements"]]

    def level(self, confidence: float) -> float:
        """The quantile level of these alphas a set at ``confidence`` uses: ``confidence`` itself, or
        with ``meta["level"]`` the conformal quantile of its placements."""
        placements = self.level_placements
        return confidence if placements is None else quantile(placements, confidence)

    @property
    def shift_robust(self) -> bool:
        """Sets use :func:`shift_robust_quantile` over the instances' repositories (a shared calibration)."""
        return (self.meta or {}).get("quantile") == SHIFT_ROBUST

    def with_meta(self, **meta: Any) -> Calibration:
        """The same pairs with ``meta`` added (``source=``, ``quantile=``)."""
        return Calibration(self.alphas, self.instances, self.score_version, {**(self.meta or {}), **meta})

    def threshold(self, confidence: float) -> float:
        """The largest alpha a set at ``confidence`` takes in (``inf``: every file)."""
        if self.shift_robust:
            groups = [repository_of(i) for i in self.instances]
            return shift_robust_quantile(self.alphas, groups, confidence)
        if self.level_placements is not None:
            return at_level(self.alphas, self.level(confidence))
        return quantile(self.alphas, confidence)

    def made_with(self) -> tuple[str | None, str | None]:
        """(embedder, re-ranker) that scored the calibration issues; None where the file does not say."""
        meta = self.meta or {}
        return meta.get("embedder"), meta.get("reranker")

    def weights(self) -> dict[str, float] | None:
        """The fusion weights that scored the calibration issues; None where the file does not say."""
        weights = (self.meta or {}).get("weights")
        return {str(k): float(v) for k, v in weights.items()} if isinstance(weights, dict) else None

    def describe(self) -> str:
        """Where the scores came from, for the note shown with a set."""
        meta = self.meta or {}
        if self.source == "history":
            return f"{self.n} past changes of this repository"
        if self.source == "github":
            return f"{self.n} issues of this repository closed by merged pull requests"
        name = meta.get("dataset")
        robust = ", shift-robust quantile" if self.shift_robust else ""
        return f"{self.n} issues" + (f" of {name}" if name else "") + robust

    def predict_set(self, paths: list[str], scores: list[float], confidence: float) -> list[str] | None:
        """The calibrated set for one ranking, or None when there are too few calibration issues."""
        if not 0.0 < confidence < 1.0:
            raise LocaliseError(f"confidence must be between 0 and 1, not {confidence}")
        if len(self.alphas) < minimum_size(confidence):
            return None
        alphas = nonconformity(scores, len(paths))[: len(paths)]
        if self.shift_robust or self.level_placements is not None:
            limit = self.threshold(confidence)
            return [p for p, a in zip(paths, alphas, strict=True) if a <= limit]
        chosen = self._classifier().predict_set(
            alphas.reshape(1, -1), confidence=confidence, smoothing=False
        )[0]
        return [p for p, keep in zip(paths, chosen, strict=True) if keep]

    def _classifier(self) -> Any:
        """crepes' classifier fitted on the calibration scores, once per calibration."""
        if self._fitted is None:
            from crepes import ConformalClassifier

            self._fitted = ConformalClassifier()
            self._fitted.fit(np.asarray(self.alphas, dtype=float))
        return self._fitted

    def too_small_reason(self, confidence: float) -> str:
        return (
            f"{len(self.alphas)} calibration issues cannot support confidence {confidence}: it needs at "
            f"least {minimum_size(confidence)}"
        )

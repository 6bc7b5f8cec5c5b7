"""The level asked of a repository's history, so that a set calibrated on past changes keeps its promise
for issues.

Commit messages are worse queries than issue texts and a change of several files is judged by its worst
file, so a past change's alpha runs higher than an issue's: the plain c-quantile of a history's alphas
covers far more than c of the issues (1.00 of 43 dev issues at 0.9, with sets of 50 files). The correction
is learnt on the dev set: each dev issue is placed among its own repository's past changes before it (its
*placement*: the fraction of those changes' alphas below its own, ties halved, in [0, 1]). An issue is
covered by the history's q-quantile exactly when its placement is at most q, so the level asked of a
repository's history at confidence c is the conformal c-quantile (:func:`calibrate.quantile`) of the
placements of issues of *other* repositories, and the threshold is that level's quantile of the history's
own alphas. The packaged placements (``calibrations/history-levels.json``, from
``bench/history_levels.py``) come from the dev repositories; a repository is never judged with its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from repomind.pipeline.localise.calibrate import SCORE_VERSION, quantile, read_versioned, write_versioned
from repomind.pipeline.localise.gitread import LocaliseError

FORMAT = "repomind-history-levels"
#: Placements of the dev issues among their repositories' histories (see the module docstring).
BUILTIN = Path(__file__).parent / "calibrations" / "history-levels.json"


def placement(alpha: float, history: Sequence[float]) -> float:
    """Where ``alpha`` falls among ``history``'s alphas: the fraction below it, ties counted half."""
    if not history:
        raise LocaliseError("an issue cannot be placed in an empty history")
    below = sum(1 for a in history if a < alpha) + 0.5 * sum(1 for a in history if a == alpha)
    return below / len(history)


@dataclass(frozen=True)
class HistoryLevels:
    #: ``owner/name`` → the placements of its dev issues among its own history.
    placements: dict[str, list[float]]
    #: How they were made: score_version, embedder, reranker, weights, limit, max_files, min_pairs, ...
    meta: dict[str, Any]

    @classmethod
    def load(cls, path: Path) -> HistoryLevels:
        data = read_versioned(
            path, fmt=FORMAT, kind="history-levels file", again="run bench/history_levels.py again"
        )
        placements = {
            str(repo): [float(u) for u in values] for repo, values in dict(data["placements"]).items()
        }
        return cls(placements, dict(data.get("meta") or {}))

    @classmethod
    def builtin(cls) -> HistoryLevels:
        return cls.load(BUILTIN)

    def save(self, path: Path) -> None:
        data = {
            "format": FORMAT,
            "score_version": SCORE_VERSION,
            "meta": self.meta,
            "placements": self.placements,
        }
        write_versioned(path, data)

    def without(self, repo: str) -> HistoryLevels:
        """The placements of the other repositories (``repo`` as ``owner/name`` or ``owner__name``)."""
        name = repo.replace("__", "/").lower()
        kept = {r: u for r, u in self.placements.items() if r.lower() != name}
        return HistoryLevels(
            kept, {**self.meta, "without": repo} if len(kept) < len(self.placements) else self.meta
        )

    def values(self) -> list[float]:
        return [u for values in self.placements.values() for u in values]

    def level(self, confidence: float) -> float:
        """The level asked of a history at ``confidence``: the conformal quantile of the placements."""
        return quantile(self.values(), confidence)

    def to_meta(self) -> dict[str, Any]:
        """What a :class:`~repomind.pipeline.localise.calibrate.Calibration` carries in ``meta["level"]``."""
        return {"placements": self.values(), "repos": sorted(self.placements)}


@cache
def builtin_levels() -> HistoryLevels:
    """The packaged placements, read once."""
    return HistoryLevels.builtin()

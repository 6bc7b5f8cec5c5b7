"""What localisation hands to the rest of the pipeline: a ranking and, when calibrated, a file set."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

GUARANTEE_NOTE = (
    "The coverage guarantee is marginal (on average over issues, not for this one) and assumes that this "
    "issue is exchangeable with the calibration data."
)

#: ``Localisation.calibration`` when no calibration stands behind a set.
UNCALIBRATED: dict[str, Any] = {"source": "none", "n": 0}


@dataclass(frozen=True)
class RankedFile:
    """One file of the ranking, with its fused score (higher is more likely to change)."""

    path: str
    score: float


@dataclass(frozen=True)
class Localisation:
    """The ranked files, the calibrated set (None when no calibration could give one) and how it was made."""

    files: list[RankedFile]
    set: list[str] | None
    confidence: float
    signals: list[str]
    note: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    #: What the set rests on: ``{"source": "github" | "history" | "shared" | "none", "n": pairs}``.
    calibration: dict[str, Any] = field(default_factory=lambda: dict(UNCALIBRATED))

    def top(self, k: int) -> list[str]:
        return [f.path for f in self.files[:k]]

    def candidates(self, limit: int) -> list[str]:
        """The files a patch should look at: the calibrated set when there is one, else the top ``limit``."""
        return list(self.set) if self.set else self.top(limit)

    def rests_on(self) -> str:
        """What the set's confidence rests on, in words ("" when no calibration stands behind it)."""
        n = int(self.calibration.get("n") or 0)
        match self.calibration.get("source"):
            case "history":
                return f"Calibrated on {n} past changes of this repository."
            case "github":
                return f"Calibrated on {n} issues of this repository closed by merged pull requests."
            case "shared":
                return f"Calibrated on {n} issues of other repositories (shared)."
            case _:
                return ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Localisation:
        files = [RankedFile(str(f["path"]), float(f["score"])) for f in data["files"]]
        return cls(
            files=files,
            set=data.get("set"),
            confidence=float(data["confidence"]),
            signals=list(data.get("signals", [])),
            note=str(data.get("note", "")),
            timings=dict(data.get("timings", {})),
            calibration=dict(data.get("calibration") or UNCALIBRATED),
        )


class Localiser(Protocol):
    """Ranks a work tree's files for an issue; the patch stage depends on this, not on the index."""

    def localise(self, work_tree: Path, issue_text: str) -> Localisation: ...

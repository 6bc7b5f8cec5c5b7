"""The calibration of each repository as the Health page shows it: what its sets rest on (the source
and its pairs), the coverage, the mean set size and the date.

Read from the shared store, so that it holds whichever host ran the jobs: the localisation each run
recorded in its job's result (source, pairs, confidence, the set) and the maintainers' merged diffs
(feedback). Coverage is measured, not promised: of the merged bot pull requests whose run had a set,
the share whose merged diff changed only files in that set. Where the repository has its own calibration
in the data dir (``calibrate --from-github``), its held-out coverage and the file's date are shown too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from repomind.errors import RepomindError
from repomind.store import Feedback, Job, Ledger

#: Runs read at most (the latest), so that the page stays fast with a long history.
RECENT_RUNS = 2000
_DIFF_FILE = re.compile(r"^diff --git a/(\S+) b/(\S+)$", re.MULTILINE)


@dataclass
class RepoCalibration:
    repo: str
    source: str = "none"
    pairs: int = 0
    confidence: float | None = None
    runs_with_set: int = 0
    set_sizes: int = 0
    covered: int = 0
    judged: int = 0
    held_out: float | None = None
    date: datetime | None = None

    @property
    def mean_set_size(self) -> float | None:
        return self.set_sizes / self.runs_with_set if self.runs_with_set else None

    @property
    def coverage(self) -> float | None:
        return self.covered / self.judged if self.judged else None


def diff_files(diff: str) -> set[str]:
    """The files a unified git diff changes (both sides of a rename)."""
    return {path for pair in _DIFF_FILE.findall(diff) for path in pair}


def _localisation(result: dict[str, Any] | None) -> dict[str, Any] | None:
    loc = (result or {}).get("localisation")
    return loc if isinstance(loc, dict) else None


def calibrations(
    ledger: Ledger, repos: set[str] | None, own_file: Any = None, now: datetime | None = None
) -> list[RepoCalibration]:
    """One row per repository with a localised run (only ``repos`` when given). ``own_file(repo)`` is
    the path of the repository's own calibration file (Settings.calibration_file_for)."""
    rows: dict[str, RepoCalibration] = {}
    sets: dict[int, set[str]] = {}
    with ledger.reading() as s:
        query = select(Job.id, Job.repo, Job.result, Job.created_at).where(Job.result.is_not(None))
        for job_id, repo, result, at in s.execute(query.order_by(Job.id.desc()).limit(RECENT_RUNS)):
            loc = _localisation(result)
            if loc is None or (repos is not None and repo not in repos):
                continue
            row = rows.get(repo)
            if row is None:  # the newest run of the repository says what its sets rest on now
                calibration = loc.get("calibration") or {}
                row = rows[repo] = RepoCalibration(
                    repo,
                    source=str(calibration.get("source") or "none"),
                    pairs=int(calibration.get("n") or 0),
                    confidence=float(loc["confidence"]) if loc.get("confidence") is not None else None,
                    date=at,
                )
            if isinstance(loc.get("set"), list):
                row.runs_with_set += 1
                row.set_sizes += len(loc["set"])
                sets[job_id] = set(loc["set"])
        merged = select(Feedback.job_id, Feedback.repo, Feedback.merged_diff).where(
            Feedback.merged.is_(True), Feedback.job_id.is_not(None)
        )
        for job_id, repo, merged_diff in s.execute(merged):
            files = diff_files(merged_diff or "")
            if repo in rows and job_id in sets and files:
                rows[repo].judged += 1
                rows[repo].covered += files <= sets[job_id]
    for row in rows.values():
        if own_file is not None:
            _own(row, own_file(row.repo))
    return sorted(rows.values(), key=lambda r: r.repo)


def _own(row: RepoCalibration, path: Path) -> None:
    """The repository's own calibration file: its date, and its held-out coverage at the confidence."""
    if not path.is_file():
        return
    from repomind.pipeline.localise.calibrate import Calibration
    from repomind.pipeline.localise.calibration_source import held_out_check

    row.date = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    try:
        calibration = Calibration.load(path)
        row.held_out = held_out_check(calibration, row.confidence or 0.9).coverage
    except (RepomindError, ValueError):  # unreadable or outdated: the file's date is still worth showing
        row.held_out = None

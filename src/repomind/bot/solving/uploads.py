"""A run's files into the shared artifacts store (:mod:`repomind.store.artifacts`), so that the run page
and training read them whichever host ran the job.

:class:`RunUploads` subscribes to the run's events: it puts ``trajectory.jsonl`` again as it grows (after
an agent step or an attempt; :data:`LIVE_EVERY_S`), and :meth:`RunUploads.finish`
puts every file of the run directory when the pipeline returns. A live upload that fails is logged and
tried again at the next step; the final one raises (the job reports it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from repomind.log import get_logger
from repomind.pipeline.solve import events as ev
from repomind.store.artifacts import Artifacts, ArtifactsError, valid_name, valid_run_id

#: Seconds between two live uploads of a growing trajectory: 0, after every step (an agent's step takes
#: a model call, seconds; a run has at most a few hundred), so the run page never misses the last one.
LIVE_EVERY_S = 0.0
#: A file larger than this is not uploaded (a run's files are far smaller; this bounds a runaway log).
MAX_FILE_BYTES = 64 * 2**20
TRAJECTORY = "trajectory.jsonl"


def run_files(directory: Path) -> Iterator[tuple[str, Path]]:
    """``(name, path)`` of each regular file under ``directory`` (no symlinks followed), names relative."""
    if directory.is_symlink() or not directory.is_dir():
        return
    for path in sorted(directory.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        if any(p.is_symlink() for p in path.relative_to(directory).parents if str(p) != "."):
            continue
        name = path.relative_to(directory).as_posix()
        if valid_name(name) and path.stat().st_size <= MAX_FILE_BYTES:
            yield name, path


def upload_run(artifacts: Artifacts, run_id: str, directory: Path) -> list[str]:
    """Every file of the run directory into ``artifacts`` under ``run_id``; the names put."""
    put: list[str] = []
    for name, path in run_files(directory):
        artifacts.put(run_id, name, path.read_bytes())
        put.append(name)
    return put


class RunUploads:
    """Subscriber of one run's events (see the module's text)."""

    def __init__(
        self,
        artifacts: Artifacts,
        runs_dir: Path,
        *,
        every_s: float = LIVE_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.artifacts = artifacts
        self.runs_dir = runs_dir
        self.every_s = every_s
        self.clock = clock
        self.run_id = ""
        self._last = float("-inf")
        self.log: Any = get_logger("repomind.worker")

    def __call__(self, event: ev.RunEvent) -> None:
        if isinstance(event, ev.RunStarted) and valid_run_id(event.run_id):
            self.run_id = event.run_id
        elif (
            isinstance(event, ev.StepTaken | ev.Reflected)
            and self.run_id
            and self.clock() - self._last >= self.every_s
        ):
            self._last = self.clock()
            self._live()

    def _live(self) -> None:
        path = self.runs_dir / self.run_id / TRAJECTORY
        try:
            if path.is_file() and not path.is_symlink():
                self.artifacts.put(self.run_id, TRAJECTORY, path.read_bytes())
        except (OSError, ArtifactsError) as exc:
            self.log.warning("could not upload the growing trajectory", run=self.run_id, error=str(exc))

    def finish(self, run_id: str, run_dir: str) -> list[str]:
        """All files of the ended run (``run_dir`` as the outcome names it); the names put."""
        if not run_id or not run_dir or not valid_run_id(run_id):
            return []
        return upload_run(self.artifacts, run_id, Path(run_dir))

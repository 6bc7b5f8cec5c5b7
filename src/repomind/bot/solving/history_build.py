"""Each repository's history calibration, built in the background beside its index.

When a job has localised (its index is at the checkout's head, so the history reuses that blob cache),
:meth:`HistoryBuilds.start` looks at the stored history (:func:`history_file` of the index): absent,
scored with another embedder or weights, or ``refresh_commits`` first-parent commits behind the head, it
is (re)built. The checkout's git objects are copied first (a local clone hardlinks them: the job's work
tree may be deleted when the job ends), then a worker-side thread scores the history on a localiser of
its own (the run's embedder, weights and ignored paths; its own in-memory index over the same cache),
scoring only what the stored history lacks, writes the file atomically and deletes the copy.

The job never waits for it: until the file is there, the next calibration source serves. One build per
repository runs at a time. A localiser with a re-ranker is not scored in the background (an LLM re-ranker
would be asked about every past change).
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from repomind.errors import RepomindError
from repomind.log import get_logger
from repomind.pipeline.localise import gitread
from repomind.pipeline.localise.embed import embedding_name
from repomind.pipeline.localise.history_calibration import ScoredHistory, history_file, score_history
from repomind.pipeline.localise.index import DEFAULT_IGNORE
from repomind.pipeline.localise.localiser import IndexLocaliser
from repomind.sandbox.hostenv import git_env

Work = Callable[[], None]
Start = Callable[[Work], None]


def in_thread(work: Work) -> None:
    """Run ``work`` in a daemon thread of the worker process."""
    threading.Thread(target=work, name="repomind-history-calibration", daemon=True).start()


class HistoryBuilds:
    """Starts the background builds; remembers which repositories' builds are running."""

    def __init__(
        self,
        *,
        start: Start = in_thread,
        limit: int = 1000,
        snapshot_every: int = 300,
        refresh_commits: int = 50,
    ) -> None:
        self._start = start
        self.limit = limit
        self.snapshot_every = snapshot_every
        self.refresh_commits = refresh_commits
        self._running: set[Path] = set()
        self._lock = threading.Lock()
        self.log: Any = get_logger("repomind.history")

    def running(self) -> set[Path]:
        with self._lock:
            return set(self._running)

    def start(self, localiser: IndexLocaliser, checkout: Path, repo: str) -> bool:
        """Start a build for ``repo`` from ``checkout`` when one is due; True when one was started. It never
        fails the job that asks: a build that cannot start is logged and left to the next job."""
        try:
            return self._start_build(localiser, checkout, repo)
        except (RepomindError, OSError) as exc:
            self.log.warning("history calibration not started", repo=repo, error=str(exc))
            return False

    def _start_build(self, localiser: IndexLocaliser, checkout: Path, repo: str) -> bool:
        if localiser.reranker is not None:
            return False
        index_dir = localiser.cache_dir
        head = gitread.resolve(checkout, None)
        previous = _stored(history_file(index_dir))
        if previous is not None and not self._due(localiser, checkout, previous, head):
            return False
        with self._lock:
            if index_dir in self._running:
                return False
            self._running.add(index_dir)
        try:
            copy = _copy_objects(checkout)
        except (RepomindError, OSError):
            self._done(index_dir)
            raise
        own = IndexLocaliser(
            index_dir,
            embedder=localiser.embedder,
            config=localiser.config,
            ignore=localiser.ignore[len(DEFAULT_IGNORE) :],
            vector_server=localiser.vector_server,
        )

        def work() -> None:
            try:
                scored = score_history(
                    copy,
                    head,
                    own,
                    limit=self.limit,
                    snapshot_every=self.snapshot_every,
                    repo=repo,
                    previous=previous,
                )
                scored.save(history_file(index_dir))
                self.log.info(
                    "history calibration built",
                    repo=repo,
                    n=len(scored.entries),
                    seconds=scored.meta["seconds"],
                )
            except (RepomindError, OSError) as exc:  # the next job starts it again
                self.log.warning("history calibration failed", repo=repo, error=str(exc))
            finally:
                shutil.rmtree(copy, ignore_errors=True)
                self._done(index_dir)

        self._start(work)
        return True

    def _done(self, index_dir: Path) -> None:
        with self._lock:
            self._running.discard(index_dir)

    def _due(self, localiser: IndexLocaliser, checkout: Path, previous: ScoredHistory, head: str) -> bool:
        """Whether the stored history must be scored again for this localiser at ``head``."""
        if previous.meta.get("embedder") != embedding_name(localiser.embedder):
            return True
        if previous.meta.get("weights") != dict(localiser.config.weights):
            return True
        if previous.head == head:
            return False
        proc = subprocess.run(
            ["git", "-C", str(checkout), "rev-list", "--count", "--first-parent", f"{previous.head}..{head}"],
            capture_output=True,
            text=True,
            check=False,
            env=git_env(),
        )
        if proc.returncode != 0:  # the stored head is not in this history (a force-push): score again
            return True
        return int(proc.stdout.strip() or 0) >= self.refresh_commits


def _stored(path: Path) -> ScoredHistory | None:
    try:
        return ScoredHistory.load(path) if path.is_file() else None
    except RepomindError:  # unreadable or of another score version: built again
        return None


def _copy_objects(checkout: Path) -> Path:
    """A bare copy of ``checkout``'s history beside it (hardlinked objects where the file system allows)."""
    dest = checkout.parent / f".history-{uuid.uuid4().hex[:12]}.git"
    proc = subprocess.run(
        ["git", "clone", "--bare", "--local", "--quiet", "--", str(checkout), str(dest)],
        capture_output=True,
        text=True,
        check=False,
        env=git_env(),
    )
    if proc.returncode != 0:
        shutil.rmtree(dest, ignore_errors=True)
        raise gitread.LocaliseError(f"git clone --local of {checkout} failed: {proc.stderr.strip()}")
    return dest

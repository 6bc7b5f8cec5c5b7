"""The worker registry: workers register, beat and leave on a clean stop; one killed outright is left
behind and turns stale. With heartbeat threads on one store, and with a real ``repomind worker``."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from datetime import timedelta
from pathlib import Path

from repomind.store import JobRequest, JobState, Ledger, make_engine
from repomind.store.workers import STALE_BEATS, Heartbeats, seen
from repomind.testing import StandInGitHub
from tests.bot.helpers import process_env, wait_for
from tests.test_cli import REPOMIND


def _ledger(tmp_path: Path) -> Ledger:
    return Ledger(make_engine(f"sqlite:///{tmp_path / 'repomind.db'}"))


def test_workers_beat_show_their_running_job_and_leave_on_a_clean_stop(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path)
    job, _ = ledger.open_job(JobRequest("acme/calc", 1, 7, "label", "fix"))
    pipeline = Heartbeats(ledger, ("events", "pipeline"), interval_s=0.05).start()
    training = Heartbeats(ledger, ("training",), interval_s=0.05).start()
    try:
        rows = {r.id: r for r in seen(ledger)}
        assert set(rows) == {pipeline.worker_id, training.worker_id}
        first = rows[pipeline.worker_id]
        assert first.host == socket.gethostname() and first.pid == os.getpid()
        assert first.lanes == ("events", "pipeline") and rows[training.worker_id].lanes == ("training",)
        assert first.current_job is None
        # a job whose lease this process holds is the one it runs (lease owners are host:pid:random)
        assert ledger.claim(job.id, f"{socket.gethostname()}:{os.getpid()}:0a1b2c3d", 60) is not None
        later = wait_for(
            lambda: next(
                (r for r in seen(ledger) if r.id == pipeline.worker_id and r.last_seen > first.last_seen),
                None,
            ),
            timeout=5,
            what="a heartbeat",
        )
        assert wait_for(
            lambda: next(r for r in seen(ledger) if r.id == pipeline.worker_id).current_job == job.id,
            timeout=5,
            what="the running job in the registry",
        )
        assert not later.stale(beat_s=0.05)
        ledger.finish(job.id, JobState.SUCCEEDED)
    finally:
        pipeline.stop()
    assert [r.id for r in seen(ledger)] == [training.worker_id]  # the clean stop removed its row
    # a worker that stops beating without leaving (killed) is shown stale after STALE_BEATS beats
    training._stop.set()
    assert training._thread is not None
    training._thread.join()
    [left] = seen(ledger)
    assert not left.stale(left.last_seen + timedelta(seconds=STALE_BEATS * 10.0 - 1))
    assert left.stale(left.last_seen + timedelta(seconds=STALE_BEATS * 10.0 + 1))
    ledger.dispose()


def test_a_repomind_worker_process_registers_beats_and_unregisters_on_sigterm(tmp_path: Path) -> None:
    with StandInGitHub(tmp_path / "github") as github:
        (tmp_path / "script.json").write_text(json.dumps({"edits": {}}))
        env = process_env(github, tmp_path / "data", tmp_path / "script.json", REPOMIND_HEARTBEAT_S="0.2")
        log = (tmp_path / "worker.log").open("wb")
        worker = subprocess.Popen([REPOMIND, "worker"], env=env, stdout=log, stderr=log)
        ledger: Ledger | None = None
        try:

            def registered() -> object:
                assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-2000:]
                if not (tmp_path / "data" / "repomind.db").exists():
                    return None
                return next((r for r in seen(_store()) if r.pid == worker.pid), None)

            def _store() -> Ledger:
                nonlocal ledger
                ledger = ledger or _ledger(tmp_path / "data")
                return ledger

            row = wait_for(registered, timeout=60, what="the worker in the registry")
            assert row.lanes == ("events", "pipeline") and row.host == socket.gethostname()
            wait_for(
                lambda: next(r for r in seen(_store()) if r.id == row.id).last_seen > row.last_seen,
                timeout=10,
                what="a second heartbeat",
            )
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=60) == 0
            assert [r for r in seen(_store()) if r.pid == worker.pid] == []
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
            if ledger is not None:
                ledger.dispose()

"""The production back ends: the ledger on a real PostgreSQL, and the job queue on a real Redis.

The same ledger tests run on SQLite (the default) and PostgreSQL, with threads racing each other, as
webhook deliveries and workers do. ``REPOMIND_REQUIRE_SERVICES=1`` (CI) turns a missing server into a
failure instead of a skip.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from repomind.store.db import make_engine
from repomind.store.ledger import JobRequest, Ledger
from repomind.store.models import JobState
from repomind.store.queue import EVENTS, PIPELINE, Handlers, Kind, Queue, open_queue
from tests.requirements import missing
from tests.services import PostgresServer, RedisServer, ServiceUnavailable
from tests.threads import race

pytestmark = pytest.mark.services


def _missing(reason: str) -> None:
    missing("services", f"{reason} (run scripts/provision-services.sh)")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'repomind.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.new_database("ledger")


def _request(delivery: str | None = None) -> JobRequest:
    return JobRequest("acme/calc", 7, 1, "label", "fix", requested_by="alice", delivery_id=delivery)


def test_deliveries_and_jobs_are_exactly_once_under_races(store_url: str) -> None:
    ledger = Ledger(make_engine(store_url))
    try:
        firsts = race(8, lambda _i: ledger.record_delivery("d-1", "issues", "labeled", {"n": 1}))
        assert sorted(firsts) == [False] * 7 + [True]

        # One intent from eight deliveries (a double label, identical commands): one job.
        opened = race(8, lambda i: ledger.open_job(_request(f"d-{i}")))
        assert len({job.id for job, _ in opened}) == 1
        assert [created for _, created in opened].count(True) == 1
        job_id = opened[0][0].id

        # Eight workers claim it: one wins; the losers' renewals say the job is not theirs.
        claims = race(8, lambda i: ledger.claim(job_id, f"worker-{i}", 60))
        winners = [i for i, job in enumerate(claims) if job is not None]
        assert len(winners) == 1
        assert ledger.renew(job_id, f"worker-{winners[0]}", 60) == "ok"
        loser = next(i for i in range(8) if i != winners[0])
        assert ledger.renew(job_id, f"worker-{loser}", 60) == "lost"

        ledger.finish(job_id, JobState.SUCCEEDED)
        again, created = ledger.open_job(_request("d-later"))
        assert created and again.id != job_id
    finally:
        ledger.dispose()


def test_a_dead_workers_lease_expires_and_another_takes_the_job(store_url: str) -> None:
    now = [1000.0]
    ledger = Ledger(make_engine(store_url), clock=lambda: now[0])
    try:
        job, _ = ledger.open_job(_request("d-1"))
        assert ledger.claim(job.id, "dies", 30) is not None
        assert ledger.recoverable() == [] and ledger.claim(job.id, "other", 30) is None
        now[0] += 31
        assert ledger.recoverable() == [job.id]
        taken = ledger.claim(job.id, "other", 30)
        assert taken is not None and taken.claims == 2 and taken.lease_owner == "other"
        assert ledger.renew(job.id, "dies", 30) == "lost"
    finally:
        ledger.dispose()


def test_a_long_review_text_opens_a_job_on_every_store(store_url: str) -> None:
    """PostgreSQL enforces String(600): the intent key is a fixed-length hash, so a long review fits."""
    ledger = Ledger(make_engine(store_url))
    try:
        args = {"feedback": "Please reconsider this. " * 2000, "review_id": 1}
        job, created = ledger.open_job(JobRequest("acme/calc", 7, 1, "review", "revise", args=args))
        assert created and len(job.active_key or "") == 64
        again, created = ledger.open_job(JobRequest("acme/calc", 7, 1, "review", "revise", args=args))
        assert not created and again.id == job.id
    finally:
        ledger.dispose()


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.lock = threading.Lock()

    def _add(self, name: str, value: Any) -> None:
        with self.lock:
            self.calls.append((name, value))

    def handlers(self) -> Handlers:
        def record(kind: Kind) -> Callable[[Any], None]:
            return lambda value: self._add(kind.value, value)

        return Handlers({k: record(k) for k in (Kind.DISPATCH, Kind.RUN_JOB, Kind.TRAINING_READY)})


def test_the_job_queue_on_redis_carries_every_message_to_a_worker(tmp_path: Path) -> None:
    try:
        server = RedisServer(tmp_path / "redis")
    except ServiceUnavailable as exc:
        _missing(str(exc))
    with server:
        # The web process enqueues; a worker process (another set of huey instances) consumes.
        def queue() -> Queue:
            return open_queue(data_dir=tmp_path, redis_url=server.url)

        producer, worker = queue(), queue()
        for i in range(20):
            producer.enqueue(Kind.DISPATCH, f"d-{i}")
        for job in range(5):
            producer.enqueue(Kind.RUN_JOB, job)
        assert producer.pending() == 25  # held in Redis until a worker runs

        recorder = _Recorder()
        stop = worker.consume(recorder.handlers(), {EVENTS: 2, PIPELINE: 2})
        try:
            deadline = time.monotonic() + 30
            while len(recorder.calls) < 25 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            stop()
        assert sorted(v for k, v in recorder.calls if k == "dispatch") == sorted(f"d-{i}" for i in range(20))
        assert sorted(v for k, v in recorder.calls if k == "run_job") == list(range(5))
        assert producer.pending() == 0

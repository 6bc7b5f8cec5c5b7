"""The leased-job engine (repomind.store.jobs) on SQLite and a real PostgreSQL (``services``): claims are
exclusive under races, the heartbeat renews, an expired lease is recovered, a failing job backs off and is
given up after its last attempt; the bot's pipeline jobs and the training jobs share it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from repomind.store import JobRequest, JobState, Ledger, TrainingState, make_engine
from repomind.store.jobs import Heartbeat, LeaseEnded, Renewal
from repomind.training.ledger import JobSpec, TrainingLedger
from tests.services import PostgresServer
from tests.threads import race


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'repomind.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.new_database("jobs")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(store_url: str, clock: Clock) -> Iterator[Ledger]:
    ledger = Ledger(make_engine(store_url), clock=clock)
    yield ledger
    ledger.dispose()


@pytest.fixture
def training(ledger: Ledger, clock: Clock) -> TrainingLedger:
    return TrainingLedger(ledger, clock=clock)


def _pipeline_job(ledger: Ledger, issue: int = 1) -> int:
    job, _ = ledger.open_job(JobRequest("acme/calc", 7, issue, "label", "fix"))
    return job.id


def _training_job(training: TrainingLedger, max_attempts: int = 3) -> int:
    job, _ = training.enqueue(JobSpec("h" * 64, "/d", "base", max_attempts=max_attempts))
    return job.id


def test_of_two_claimers_exactly_one_wins_on_either_table(ledger: Ledger, training: TrainingLedger) -> None:
    for _ in range(3):  # a race is won by chance: run it a few times
        pipeline_id = _pipeline_job(ledger)
        claims = race(2, lambda i, job_id=pipeline_id: ledger.leases.claim(job_id, f"w{i}", 60))
        wins = [j for j in claims if j is not None]
        assert len(wins) == 1 and wins[0].state is JobState.RUNNING and wins[0].claims == 1
        ledger.finish(pipeline_id, JobState.SUCCEEDED)
    training_id = _training_job(training)
    wins_t = [j for j in race(2, lambda i: training.claim(training_id, f"w{i}", 60)) if j is not None]
    assert len(wins_t) == 1 and wins_t[0].state is TrainingState.RUNNING and wins_t[0].attempts == 1
    owner = wins_t[0].lease_owner
    assert training.leases.renew(training_id, str(owner), 60) is Renewal.OK
    assert training.leases.renew(training_id, "w0" if owner == "w1" else "w1", 60) is Renewal.LOST


def test_renewals_extend_the_lease_and_carry_a_cancel(ledger: Ledger, clock: Clock) -> None:
    job_id = _pipeline_job(ledger)
    assert ledger.leases.claim(job_id, "me", 30) is not None
    clock.now += 20
    assert ledger.leases.renew(job_id, "me", 30) is Renewal.OK
    assert ledger.job(job_id).lease_expires == clock.now + 30
    clock.now += 20  # past the first lease, within the renewed one: nobody else may take the job
    assert ledger.leases.recoverable() == [] and ledger.leases.claim(job_id, "other", 30) is None
    ledger.request_cancel("acme/calc", 1)
    assert ledger.leases.renew(job_id, "me", 30) is Renewal.CANCEL


def test_the_heartbeat_renews_in_the_background_until_stopped(store_url: str) -> None:
    ledger = Ledger(make_engine(store_url))  # the real clock: the heartbeat's thread beats in real time
    try:
        job_id = _pipeline_job(ledger)
        assert ledger.leases.claim(job_id, "me", 0.6) is not None
        first = ledger.job(job_id).lease_expires
        assert first is not None
        with Heartbeat(ledger.leases, job_id, "me", 0.6) as beat:
            deadline = time.monotonic() + 10
            while (ledger.job(job_id).lease_expires or 0) <= first + 0.3 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert (ledger.job(job_id).lease_expires or 0) > first + 0.3
            beat.boundary()  # still ours, no cancel: go on
        stopped = ledger.job(job_id).lease_expires
        time.sleep(0.5)
        assert ledger.job(job_id).lease_expires == stopped  # no beat after stop()
        ledger.finish(job_id, JobState.SUCCEEDED)
        with Heartbeat(ledger.leases, job_id, "me", 0.6) as beat, pytest.raises(LeaseEnded) as ended:
            beat.boundary()  # the job is no longer this worker's
        assert ended.value.reason == "lost"
    finally:
        ledger.dispose()


def test_an_expired_lease_is_recovered_by_another_worker(
    ledger: Ledger, training: TrainingLedger, clock: Clock
) -> None:
    pipeline_id, training_id = _pipeline_job(ledger), _training_job(training)
    assert ledger.leases.recoverable() == [pipeline_id] and training.runnable() == [training_id]
    assert ledger.leases.claim(pipeline_id, "dies", 30) and training.claim(training_id, "dies", 30)
    assert ledger.leases.recoverable() == [] and training.runnable() == []
    clock.now += 31  # the worker died: nobody renewed
    assert ledger.leases.recoverable() == [pipeline_id] and training.runnable() == [training_id]
    taken = ledger.leases.claim(pipeline_id, "next", 30)
    assert taken is not None and taken.lease_owner == "next" and taken.claims == 2
    taken_t = training.claim(training_id, "next", 30)
    assert taken_t is not None and taken_t.lease_owner == "next" and taken_t.attempts == 2
    assert ledger.leases.renew(pipeline_id, "dies", 30) is Renewal.LOST
    assert training.leases.renew(training_id, "dies", 30) is Renewal.LOST


def test_a_failing_job_backs_off_doubling_then_is_given_up(training: TrainingLedger, clock: Clock) -> None:
    job_id = _training_job(training, max_attempts=3)
    assert training.claim(job_id, "w", 60) is not None
    failed = training.fail(job_id, "boom 1", backoff_s=10)
    assert failed.state is TrainingState.QUEUED and failed.lease_owner is None
    assert failed.retry_at == clock.now + 10 and training.leases.retry_in(failed) == 10
    assert training.claim(job_id, "w", 60) is None and training.runnable() == []  # backing off
    clock.now += 10
    assert training.runnable() == [job_id] and training.claim(job_id, "w", 60) is not None
    assert training.fail(job_id, "boom 2", backoff_s=10).retry_at == clock.now + 20  # doubled
    clock.now += 20
    assert training.claim(job_id, "w", 60) is not None
    given_up = training.fail(job_id, "boom 3", backoff_s=10)
    assert given_up.state is TrainingState.FAILED and given_up.retry_at is None
    assert [f["error"] for f in given_up.failures] == ["boom 1", "boom 2", "boom 3"]
    clock.now += 1000
    assert training.claim(job_id, "w", 60) is None and training.runnable() == []  # never a fourth try


def test_a_pipeline_job_has_no_retries_a_failure_gives_it_up(ledger: Ledger) -> None:
    job_id = _pipeline_job(ledger)
    assert ledger.leases.claim(job_id, "w", 60) is not None
    given_up = ledger.leases.fail(job_id, "boom", backoff_s=10)
    assert given_up.state is JobState.FAILED and given_up.error == "boom" and given_up.lease_owner is None
    assert given_up.active_key is None and ledger.leases.recoverable() == []
    again, created = ledger.open_job(JobRequest("acme/calc", 7, 1, "label", "fix"))  # asked again: a new job
    assert created and again.id != job_id

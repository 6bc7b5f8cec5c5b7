"""The store's schema migrations on SQLite and a real PostgreSQL (``services``; REPOMIND_REQUIRE_SERVICES=1
turns a missing server into a failure): a new store is made by them and matches the models; a store of
Repomind 0.1.0, made by the baseline or by ``create_all`` before migrations existed, is upgraded with every
job, delivery, feedback record and adapter kept and readable through today's ledger."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData, Table, inspect, text

from repomind.store import JobRequest, JobState, Ledger, make_engine
from repomind.store.feedback import FeedbackRecord, all_feedback, save
from repomind.store.joblog import latest_events
from repomind.store.migrate import BASELINE, current, head, upgrade
from repomind.store.schema import metadata
from repomind.store.training import TrainingState
from repomind.training.ledger import JobSpec, TrainingLedger
from tests.services import PostgresServer

WHEN = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'repomind.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.new_database("migrations")


def _diff(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))


def test_a_new_store_is_made_by_the_migrations_and_matches_the_models(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        assert current(engine) == head() != BASELINE
        assert _diff(engine) == []
        make_engine(store_url).dispose()  # starting again is a no-op
        assert current(engine) == head()
    finally:
        engine.dispose()


def _old_store(url: str, *, stamped: bool) -> None:
    """A store of Repomind 0.1.0 with a job (and its live log), a delivery, a pin, a feedback record, a
    training job and a promoted adapter, written into its own tables as that version wrote them.
    ``stamped`` False: made before migrations existed (``create_all``: no ``alembic_version``)."""
    engine = make_engine(url, create=False)
    upgrade(engine, BASELINE)
    with engine.begin() as conn:
        if not stamped:
            conn.execute(text("DROP TABLE alembic_version"))
        old = MetaData()
        table = {
            name: Table(name, old, autoload_with=conn)
            for name in ("jobs", "job_events", "deliveries", "pins", "feedback", "training_jobs", "adapters")
        }
        assert "base_sha" not in table["jobs"].c and "tries" not in table["deliveries"].c
        conn.execute(
            table["jobs"].insert(),
            {
                "id": 1,
                "repo": "acme/calc",
                "installation_id": 12,
                "issue_number": 7,
                "thread_number": 7,
                "trigger": "label",
                "command": "fix",
                "args": {"k": 1},
                "requested_by": "alice",
                "delivery_id": "d-old",
                "active_key": None,
                "state": "SUCCEEDED",
                "cancel_requested": False,
                "claims": 1,
                "status_comment_id": 99,
                "branch": "repomind/issue-7",
                "pr_number": 3,
                "head_sha": "a" * 40,
                "bot_diff": "--- a\n+++ b\n",
                "result": {"cost_usd": 0.5},
                "created_at": WHEN,
                "updated_at": WHEN,
            },
        )
        conn.execute(
            table["job_events"].insert(), {"job_id": 1, "at": WHEN, "kind": "status", "message": "done"}
        )
        conn.execute(
            table["deliveries"].insert(),
            {"id": "d-old", "event": "issues", "action": "labeled", "payload": {"n": 1}, "received_at": WHEN},
        )
        conn.execute(
            table["pins"].insert(),
            {"repo": "acme/calc", "issue_number": 7, "path": "calc.py", "include": True},
        )
        conn.execute(
            table["feedback"].insert(),
            {
                "repo": "acme/calc",
                "pr_number": 3,
                "issue_number": 7,
                "job_id": 1,
                "merged": True,
                "issue_title": "add is wrong",
                "issue_body": "1+1",
                "bot_diff": "d",
                "merged_diff": "d",
                "review_comments": [{"body": "ok"}],
                "cost_usd": 0.5,
                "consumed": False,
                "recorded_at": WHEN,
            },
        )
        conn.execute(
            table["training_jobs"].insert(),
            {
                "dataset_hash": "h" * 64,
                "dataset_path": "/d",
                "base_model": "m",
                "reason": "demand",
                "state": "SUCCEEDED",
                "attempts": 1,
                "max_attempts": 3,
                "failures": [],
                "adapter_id": 1,
                "created_at": WHEN,
                "updated_at": WHEN,
            },
        )
        conn.execute(
            table["adapters"].insert(),
            {
                "version": 1,
                "job_id": 1,
                "dataset_hash": "h" * 64,
                "base_model": "m",
                "path": "/a",
                "metrics": {"resolved": 0.4},
                "promoted": True,
                "promoted_at": WHEN,
                "decision": "better",
                "created_at": WHEN,
            },
        )
    assert current(engine) == (BASELINE if stamped else None)
    engine.dispose()


@pytest.mark.parametrize("stamped", [True, False], ids=["baseline", "before-migrations"])
def test_an_upgrade_keeps_every_job_delivery_feedback_record_and_adapter(
    store_url: str, stamped: bool
) -> None:
    _old_store(store_url, stamped=stamped)
    ledger = Ledger(make_engine(store_url))
    try:
        assert current(ledger.engine) == head()
        assert _diff(ledger.engine) == []
        [job] = ledger.all_jobs()
        assert (job.repo, job.installation_id, job.issue_number, job.state) == (
            "acme/calc",
            12,
            7,
            JobState.SUCCEEDED,
        )
        assert (job.branch, job.pr_number, job.head_sha, job.result) == (
            "repomind/issue-7",
            3,
            "a" * 40,
            {"cost_usd": 0.5},
        )
        assert job.created_at.replace(tzinfo=UTC) == WHEN
        assert (job.base_sha, job.issue_title, job.issue_body, job.issue_edited_by) == (
            None,
            None,
            None,
            None,
        )
        assert ledger.last_push("acme/calc", 7) is not None
        assert [e.message for e in latest_events(ledger, 1)] == ["done"]
        assert ledger.pins("acme/calc", 7) == (["calc.py"], [])
        # The old delivery was never dispatched: it has made no failed try and can be taken now.
        delivery = ledger.begin_dispatch("d-old", hold_s=60)
        assert delivery is not None and delivery.tries == 0 and delivery.payload == {"n": 1}
        assert ledger.dispatch_failed("d-old", "boom", retry_in_s=1) == 1
        # The feedback record takes its installation from its job, and can be updated as today's code does.
        [feedback] = all_feedback(ledger)
        assert (feedback.pr_number, feedback.merged, feedback.installation_id) == (3, True, 12)
        assert feedback.review_comments == [{"body": "ok"}]
        assert save(ledger, FeedbackRecord("acme/calc", 3, merged=False, installation_id=12)) == (
            feedback.id,
            False,
        )
        # The adapter (trained on pooled data) is ``shared``: served only where the operator shares.
        training = TrainingLedger(ledger)
        [adapter] = training.adapters()
        assert (adapter.version, adapter.scope, adapter.promoted, adapter.metrics) == (
            1,
            "shared",
            True,
            {"resolved": 0.4},
        )
        assert training.served("shared", 12) is not None and training.served("installation", 12) is None
        [old_job] = training.jobs()
        assert (old_job.state, old_job.scope, old_job.adapter_id) == (TrainingState.SUCCEEDED, "shared", 1)
        # The job engine's backoff column is there, empty on the old job; a new training job backs off in it.
        assert old_job.retry_at is None and old_job.failures == []
        new_job, _ = training.enqueue(JobSpec("n" * 64, "/n", "m", max_attempts=2))
        assert training.claim(new_job.id, "w", 60) is not None
        assert training.fail(new_job.id, "boom", backoff_s=60).retry_at is not None
        assert training.runnable() == []
        # Today's code writes next to the old rows.
        job2, created = ledger.open_job(JobRequest("acme/calc", 7, 12, "label", "fix", issue_title="t"))
        assert created and job2.id == 2 and ledger.job(2).issue_title == "t"
    finally:
        ledger.dispose()


def test_a_store_made_by_create_all_with_some_new_columns_is_upgraded(store_url: str) -> None:
    """A store that this morning's code made (``create_all`` of today's models, no ``alembic_version``):
    the upgrade adds nothing twice."""
    engine = make_engine(store_url, create=False)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_jobs_installation_id"))
    engine.dispose()
    engine = make_engine(store_url)
    try:
        assert current(engine) == head() and _diff(engine) == []
    finally:
        engine.dispose()


def test_processes_starting_together_migrate_a_new_store_once(store_url: str) -> None:
    """The web process and the workers start at once: each makes its engine, and none fails."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def start() -> None:
        barrier.wait()
        try:
            make_engine(store_url).dispose()
        except Exception as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    engine = make_engine(store_url, create=False)
    try:
        assert current(engine) == head()
        assert "alembic_version" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_the_db_command_shows_and_applies_the_upgrade(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from repomind.cli import cli

    url = f"sqlite:///{tmp_path / 'repomind.db'}"
    _old_store(url, stamped=True)
    runner = CliRunner(env={"REPOMIND_DATABASE_URL": url})
    before = runner.invoke(cli, ["db", "current"])
    assert before.exit_code == 0 and before.output.strip() == f"{BASELINE} (newest: {head()})"
    done = runner.invoke(cli, ["db", "upgrade"])
    assert done.exit_code == 0 and done.output.strip() == f"the store is at revision {head()}"
    engine = make_engine(url, create=False)
    try:
        assert current(engine) == head()
    finally:
        engine.dispose()


def test_a_sqlite_store_locked_at_start_is_upgraded_on_a_later_try(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite may answer "database is locked" at once while another process creates the store: the
    upgrade (one transaction) is tried again; any other error is raised."""
    from sqlalchemy.exc import OperationalError

    from repomind.store import db

    real, tries = db.upgrade, []

    def flaky(engine: Any) -> None:
        tries.append(1)
        if len(tries) < 3:
            raise OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))
        real(engine)

    monkeypatch.setattr(db, "upgrade", flaky)
    engine = db.make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        assert len(tries) == 3 and current(engine) == head()
    finally:
        engine.dispose()

    def broken(engine: Any) -> None:
        raise OperationalError("SELECT", {}, Exception("no such table: x"))

    monkeypatch.setattr(db, "upgrade", broken)
    with pytest.raises(OperationalError, match="no such table"):
        db.make_engine(f"sqlite:///{tmp_path / 'b.db'}")

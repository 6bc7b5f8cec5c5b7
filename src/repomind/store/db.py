"""The store's engine: SQLite in the data dir by default, any SQLAlchemy URL (PostgreSQL) by setting."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from repomind.store.migrate import upgrade


def default_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'repomind.db'}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Transactions are begun explicitly (BEGIN IMMEDIATE below), so that a read-then-write transaction
    # waits for the write lock up front instead of failing with "database is locked" when it upgrades.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets the web process write deliveries while workers write jobs; busy_timeout waits for locks.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, *, create: bool = True) -> Engine:
    """An engine for ``url`` whose transactions write. With ``create``, the store is brought to the newest
    schema first (:func:`repomind.store.migrate.upgrade`: made when new, migrated when older)."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    else:
        engine = create_engine(url, pool_pre_ping=True)
    if create:
        _upgrade(engine)
    return engine


def _upgrade(engine: Engine, attempts: int = 6) -> None:
    # Processes starting together on a new SQLite store: SQLite can answer "database is locked" at once
    # (setting WAL on a file another connection is creating, a hot WAL being recovered) instead of waiting
    # for the busy timeout. The upgrade is one transaction, so trying it again is safe.
    for attempt in range(attempts):
        try:
            upgrade(engine)
            return
        except OperationalError as exc:
            if engine.dialect.name != "sqlite" or "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.1 * 2**attempt)


def make_reader(engine: Engine) -> Engine:
    """An engine for reads only. On SQLite its statements take no write lock (WAL readers never wait
    for writers), so the webhook route and the workers do not queue behind each other to read."""
    url = engine.url.render_as_string(hide_password=False)
    if not url.startswith("sqlite:///"):
        return engine
    reader = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    event.listen(reader, "connect", _sqlite_pragmas)
    return reader


def make_sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)

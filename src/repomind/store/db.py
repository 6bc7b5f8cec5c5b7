"""The store's engine: SQLite in the data dir by default, any SQLAlchemy URL (PostgreSQL) by setting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.orm import Session, sessionmaker

from repomind.store.models import Base


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
    """An engine for ``url`` whose transactions write; creates the tables when they are missing."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    else:
        engine = create_engine(url, pool_pre_ping=True)
    if create:
        Base.metadata.create_all(engine)
        add_missing_columns(engine)
    return engine


def add_missing_columns(engine: Engine) -> list[str]:
    """Add the columns a newer version declares to a store an older version created (``create_all``
    makes missing tables only). New columns are nullable or have a server default, so old rows stay
    valid; a schema that needs more than that waits for migrations. The columns added, as table.column."""
    added: list[str] = []
    with engine.begin() as conn:
        present = inspect(conn)
        for table in Base.metadata.sorted_tables:
            if not present.has_table(table.name):
                continue
            have = {c["name"] for c in present.get_columns(table.name)}
            for column in table.columns:
                if column.name in have:
                    continue
                kind = column.type.compile(dialect=engine.dialect)
                default = column.server_default
                clause = f" DEFAULT {default.arg}" if default is not None else ""  # type: ignore[attr-defined]
                conn.exec_driver_sql(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}{clause}')
                added.append(f"{table.name}.{column.name}")
    return added


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

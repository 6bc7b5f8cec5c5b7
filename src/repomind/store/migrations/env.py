"""Alembic's entry point for the store's migrations: Alembic runs this file by its path.

:func:`repomind.store.migrate.upgrade` hands over an open connection in ``config.attributes``; the
migrations run in its transaction, which already holds the store's migration lock.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from repomind.store.schema import metadata


def _migrate(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def _run() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("the store's migrations run through repomind.store.migrate (`repomind db`)")
    _migrate(connection)


# Alembic loads this file under a name of its own; imported as part of the package, it does nothing.
if not __name__.startswith("repomind."):
    _run()

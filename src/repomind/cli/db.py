"""`repomind db`: the store's schema. Upgrades run when the server or a worker starts; these show the
store's revision, apply the upgrade by hand, and write a new migration (for developers)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from repomind.cli.context import Context, pass_ctx


@click.group()
def db() -> None:
    """The store's schema migrations (Alembic)."""


@db.command()
@pass_ctx
def current(ctx: Context) -> None:
    """Print the store's revision and the newest one."""
    from repomind.store.db import make_engine
    from repomind.store.migrate import current as revision_of
    from repomind.store.migrate import head

    engine = make_engine(ctx.settings.database, create=False)
    try:
        click.echo(f"{revision_of(engine) or 'none'} (newest: {head()})")
    finally:
        engine.dispose()


@db.command()
@pass_ctx
def upgrade(ctx: Context) -> None:
    """Bring the store to the newest revision (what starting the server does)."""
    from repomind.store.db import make_engine
    from repomind.store.migrate import current as revision_of

    engine = make_engine(ctx.settings.database)
    try:
        click.echo(f"the store is at revision {revision_of(engine)}")
    finally:
        engine.dispose()


@db.command()
@click.option("-m", "--message", required=True, help="What the migration changes, in a few words.")
def revision(message: str) -> None:
    """Write the next migration from the difference between the models and the newest revision (into
    repomind/store/migrations/versions of the sources this runs from); review and complete it."""
    from repomind.store.migrate import new_revision

    with tempfile.TemporaryDirectory() as scratch:
        path = new_revision(message, f"sqlite:///{Path(scratch) / 'scratch.db'}")
    click.echo(f"wrote {path}")

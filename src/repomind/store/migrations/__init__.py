"""The store's schema as Alembic migrations: ``env.py`` (Alembic's entry point), ``script.py.mako`` (the
template of a new revision) and ``versions/`` (one revision per change of the schema, oldest first).

:mod:`repomind.store.migrate` runs them; nothing here is imported at run time except by Alembic.
"""

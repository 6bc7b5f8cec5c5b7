"""The revisions, oldest first; ``v0001_baseline`` is the schema of Repomind 0.1.0.

Alembic skips this file."""

"""Alembic migration environment of the hotline database (run through engine.store.migrate)."""

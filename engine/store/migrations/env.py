"""Alembic environment: runs migrations on the URL or connection handed over by engine.store.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from engine.store.db import make_engine
from engine.store.models import Base


def _run(connection: Connection) -> None:
    """Run the requested migrations inside one transaction on *connection*."""
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    """Use the caller's connection when given, else open one on the configured URL."""
    connection: Connection | None = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(context.config.attributes["url"])
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported; pass a database URL")
_run_online()

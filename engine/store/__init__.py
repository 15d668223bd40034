"""Database layer: typed ORM models, engine setup, Alembic migrations and per-job repositories.

Repository functions take a :class:`sqlalchemy.orm.Session`, flush their changes and never commit:
the caller owns the transaction (``with factory.begin() as session: ...``).
"""

"""Alembic migrations: upgrade, current revision, downgrade, and agreement with the ORM models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from engine.store.db import make_engine
from engine.store.migrate import alembic_config, current, downgrade, upgrade
from engine.store.models import Base

pytestmark = pytest.mark.db

HEAD = ScriptDirectory.from_config(alembic_config("")).get_current_head()


def _head(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def test_fresh_database_has_no_revision(db_url: str) -> None:
    assert current(db_url) is None


def test_upgrade_reaches_head_and_models_match_migrations(db_url: str) -> None:
    upgrade(db_url)
    assert current(db_url) == HEAD
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_upgrade_twice_is_a_no_op(db_url: str) -> None:
    upgrade(db_url)
    upgrade(db_url)
    assert current(db_url) == HEAD


def test_downgrade_to_base_drops_every_table(db_url: str) -> None:
    upgrade(db_url)
    downgrade(db_url, "base")
    assert current(db_url) is None
    engine = make_engine(db_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()


def test_migration_creates_the_skill_level_check(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO agents VALUES ('1001', 'Ann', 'user/1001', CURRENT_TIMESTAMP)"))
            connection.execute(text("INSERT INTO skills (name) VALUES ('sales')"))
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(text("INSERT INTO agent_skills SELECT '1001', id, 11 FROM skills WHERE name = 'sales'"))
    finally:
        engine.dispose()

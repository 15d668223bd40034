"""Database fixtures: a fresh database per test, SQLite by default, PostgreSQL when
HOTLINE_TEST_DATABASE_URL is set (each test then gets its own schema, dropped afterwards).

gevent patches the standard library first, as the engine's process does (``cli.py``): tests drive
gevent servers with urllib in the same process, and psycopg2 is cooperative only when patched."""

from gevent import monkey

monkey.patch_all()

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from engine.runtime import orphans
from engine.store.db import default_url, make_engine, session_factory
from engine.store.migrate import upgrade
from engine.transport import inbound

pytest_plugins = ["tests.real_freeswitch"]  # the `freeswitch` fixture for tests marked realfs

TEST_DATABASE_URL_ENV = "HOTLINE_TEST_DATABASE_URL"


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    """URL of an empty database private to this test."""
    server_url = os.environ.get(TEST_DATABASE_URL_ENV)
    if not server_url:
        yield default_url(tmp_path)
        return
    schema = f"test_{uuid.uuid4().hex}"
    admin = make_engine(server_url)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(server_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    """A session on the database at ``db_url`` after running the Alembic migrations."""
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as db_session:
            yield db_session
    finally:
        engine.dispose()


@pytest.fixture(autouse=True)
def log_levels_restored() -> Iterator[None]:
    """The engine sets the root logger's level from its config (start, reload): put it back after each test,
    so a later test does not log (and pytest keep) records at a level it never asked for."""
    root = logging.getLogger()
    level = root.level
    yield
    root.setLevel(level)


@pytest.fixture(autouse=True)
def no_engine_left_running() -> Iterator[None]:
    """A test that leaves an ESL client running (an engine not stopped) fails: its reconnecting client and
    its greenlets would act on the next test's switch."""
    before = set(inbound.RUNNING)
    watching = set(orphans.WATCHING)
    yield
    left = [client for client in list(inbound.RUNNING) if client not in before]
    for client in left:
        client.stop()
    watchers = [legs for legs in list(orphans.WATCHING) if legs not in watching and legs.watching]
    for legs in watchers:
        legs.stop_watching()
    if left or watchers:
        names = [f"{c.name}@{c.address}" for c in left] + ["an orphan-leg watcher"] * len(watchers)
        pytest.fail("left running after the test: " + ", ".join(names), pytrace=False)

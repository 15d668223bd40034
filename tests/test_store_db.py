"""Engine construction: SQLite pragmas, default URL, sessions, cooperative PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from engine.store.db import default_url, make_engine, session_factory

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_default_url_is_a_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    assert default_url(tmp_path / "data") == f"sqlite:///{tmp_path.resolve()}/data/hotline.sqlite3"


def test_sqlite_connections_use_wal_and_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(default_url(tmp_path / "new" / "dir"))
    try:
        with engine.connect() as connection:
            assert connection.scalar(text("PRAGMA journal_mode")) == "wal"
            assert connection.scalar(text("PRAGMA foreign_keys")) == 1
        assert (tmp_path / "new" / "dir" / "hotline.sqlite3").exists()
    finally:
        engine.dispose()


def test_sessions_keep_objects_readable_after_commit(tmp_path: Path) -> None:
    engine = make_engine(default_url(tmp_path))
    try:
        factory = session_factory(engine)
        assert factory.kw["expire_on_commit"] is False
        with factory.begin() as session:
            assert session.scalar(text("SELECT 1")) == 1
    finally:
        engine.dispose()


COOPERATIVE_PROBE = """
from gevent import monkey

monkey.patch_all()

import sys
import time

import gevent
from sqlalchemy import text

from engine.store.db import make_engine

engine = make_engine(sys.argv[1], pool_size=4)


def sleep_in_server() -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_sleep(0.3)"))


start = time.monotonic()
gevent.joinall([gevent.spawn(sleep_in_server) for _ in range(4)], raise_error=True)
print(time.monotonic() - start)
"""


@pytest.fixture
def postgres_url(db_url: str) -> str:
    """The test database URL when it is PostgreSQL; skips otherwise."""
    if not db_url.startswith("postgresql"):
        pytest.skip("needs HOTLINE_TEST_DATABASE_URL pointing at PostgreSQL")
    return db_url


@pytest.mark.db
def test_postgresql_queries_yield_to_other_greenlets_when_monkey_patched(postgres_url: str) -> None:
    probe = subprocess.run(
        [sys.executable, "-c", COOPERATIVE_PROBE, postgres_url],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert float(probe.stdout) < 0.9, "four 0.3 s queries in parallel greenlets ran one after another"


BLOCKING_PROBE = """
import sys

import psycopg2.extensions
from sqlalchemy import text

from engine.store.db import make_engine

engine = make_engine(sys.argv[1])
with engine.connect() as connection:
    assert connection.scalar(text("SELECT 1")) == 1
print(psycopg2.extensions.get_wait_callback() is None)
"""


@pytest.mark.db
def test_postgresql_stays_blocking_without_monkey_patching(postgres_url: str) -> None:
    """A process that never patched gevent (a one-shot script) keeps plain blocking psycopg2."""
    probe = subprocess.run(
        [sys.executable, "-c", BLOCKING_PROBE, postgres_url],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert probe.stdout.strip() == "True"


@pytest.mark.db
def test_database_errors_and_logs_never_carry_the_statement_parameters(db_url: str, caplog) -> None:
    """A caller's number bound into a failing statement appears neither in the error nor in any log line
    (on PostgreSQL the driver's DETAIL line would quote it: only the first line is kept)."""
    import logging

    from sqlalchemy.exc import IntegrityError

    engine = make_engine(db_url, echo=True)  # echo logs every statement it runs
    number = "+8613900139042"
    try:
        with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"), engine.begin() as connection:
            connection.execute(text("CREATE TABLE callers (number VARCHAR(20) PRIMARY KEY)"))
            connection.execute(text("INSERT INTO callers VALUES (:n)"), {"n": number})
            with pytest.raises(IntegrityError) as exc:
                connection.execute(text("INSERT INTO callers VALUES (:n)"), {"n": number})
        assert "INSERT INTO callers" in caplog.text  # the log is there, its parameters are not
        assert number not in caplog.text and number not in str(exc.value)
        assert "parameters hidden" in str(exc.value)
        assert "unique" in str(exc.value).lower()  # the reason is kept
    finally:
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS callers"))
        engine.dispose()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("::not a url::", "database_url: not a URL SQLAlchemy can parse"),
        ("nosuch://u:s3cret@h/d", "database_url nosuch://u:***@h/d: SQLAlchemy has no dialect 'nosuch'"),
        ("mysql+mysqldb://u:s3cret@h/d", "database_url mysql+mysqldb://u:***@h/d: its driver is not installed"),
    ],
)
def test_an_unusable_url_is_a_typed_error_without_the_password(url: str, message: str) -> None:
    from engine.store.db import DatabaseUrlError

    with pytest.raises(DatabaseUrlError) as exc:
        make_engine(url)
    assert str(exc.value).startswith(message) and "s3cret" not in str(exc.value)

"""Engine and session construction: SQLite by default, PostgreSQL (gevent-cooperative) by URL."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from gevent import monkey
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    NoSuchModuleError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_FILENAME = "hotline.sqlite3"


class DatabaseUrlError(ValueError):
    """The database URL cannot be used: unparseable, unknown dialect, or its driver is not installed.

    The message never repeats the URL's password.
    """


def unavailable(exc: BaseException) -> bool:
    """True when ``exc`` says the database cannot be reached or written now (down, read-only, locked, pool
    exhausted, connection lost), so the same statement may succeed later; False for a refused statement
    (a constraint, bad data), which will never succeed."""
    if isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def default_url(data_dir: str | Path) -> str:
    """SQLite URL of the default database file inside *data_dir*."""
    return f"sqlite:///{Path(data_dir).resolve() / DEFAULT_FILENAME}"


def make_engine(url: str, **engine_options: Any) -> Engine:
    """Create an engine for *url*.

    Connections may be used by another thread than the one that opened them (the write queue's thread,
    engine/store/writer.py): SQLAlchemy gives SQLite *file* databases a QueuePool with
    ``check_same_thread=False``; an in-memory SQLite database is one per thread and cannot be written off
    the loop. SQLite connections get ``journal_mode=WAL`` and ``foreign_keys=ON`` and the database file's
    directory is created. PostgreSQL (psycopg2) is made gevent-cooperative when the process is
    monkey-patched, so a query blocks only its own greenlet; psycopg2 and psycogreen are imported
    only for PostgreSQL URLs.

    Statements' parameters never appear in errors or logs (``hide_parameters``): they hold callers'
    numbers and customers' data. DatabaseUrlError when the URL cannot be used.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUrlError("database_url: not a URL SQLAlchemy can parse") from None
    shown = parsed.render_as_string(hide_password=True)
    backend = parsed.get_backend_name()
    engine_options.setdefault("hide_parameters", True)
    try:
        if backend == "sqlite":
            if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(parsed, **engine_options)
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            if backend == "postgresql" and parsed.get_driver_name() == "psycopg2":
                _make_psycopg2_cooperative()
            engine = create_engine(parsed, pool_pre_ping=True, **engine_options)
    except NoSuchModuleError:
        raise DatabaseUrlError(f"database_url {shown}: SQLAlchemy has no dialect {parsed.drivername!r}") from None
    except ImportError as exc:
        raise DatabaseUrlError(f"database_url {shown}: its driver is not installed ({exc})") from None
    event.listen(engine, "handle_error", _without_values)
    return engine


def _without_values(context: ExceptionContext) -> None:
    """Keep only the first line of the driver's message: PostgreSQL adds the offending row's values
    (``DETAIL:  Key (number)=(+86...) already exists.``), which ``hide_parameters`` does not cover."""
    error, wrapped = context.original_exception, context.sqlalchemy_exception
    message = str(error)
    first, _, rest = message.partition("\n")
    if not rest.strip():
        return
    with contextlib.suppress(AttributeError, TypeError):  # a driver whose errors cannot be changed
        error.args = (first,)
    if wrapped is not None and wrapped.args and isinstance(wrapped.args[0], str):
        wrapped.args = (wrapped.args[0].replace(message, first), *wrapped.args[1:])  # composed before this hook


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Session factory; objects stay readable after commit (``expire_on_commit=False``)."""
    return sessionmaker(engine, expire_on_commit=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Turn on WAL journaling, foreign keys and a lock wait for every new SQLite connection.

    ``synchronous=NORMAL`` is SQLite's advice for WAL: no fsync per commit (FULL took 2.4 ms per
    commit here, blocking every greenlet), still never corrupt; a power cut may lose the last
    commits. Production runs PostgreSQL.
    """
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
    finally:
        cursor.close()


def _make_psycopg2_cooperative() -> None:
    """Install psycogreen's gevent wait callback into psycopg2 (idempotent, process-wide).

    Only done once gevent has monkey-patched ``threading``: SQLAlchemy's pool and first-connect
    locks are threading locks, and a greenlet yielding inside one would otherwise deadlock the
    hub. Unpatched processes (CLI one-shots) keep plain blocking psycopg2.
    """
    try:
        from psycogreen.gevent import patch_psycopg
    except ImportError as exc:
        raise ImportError("PostgreSQL URLs need psycopg2 and psycogreen: pip install 'hotline[postgres]'") from exc
    if monkey.is_module_patched("threading"):
        patch_psycopg()

"""Who serves: an active/standby pair of hotline processes on one PostgreSQL database.

Leadership is PostgreSQL's own: a session-level advisory lock (``pg_try_advisory_lock``) held on a
connection of its own, kept out of every pool. No home-made consensus: the database grants the lock
to one session at a time and frees it when that session ends, whether its process exited, was killed
(-9) or lost the network (PostgreSQL notices the dead connection: tcp keepalives, below).

* A process **acquires** before it serves: it polls for the lock every ``poll_seconds`` (standby) and
  starts the engine only once it holds it (leader).
* The leader **watches** its lock session: every ``check_seconds`` it asks the session to confirm the lock
  is still its own, within ``check_seconds`` too. When the session fails or the answer is no, leadership is
  lost: the caller stops taking calls at once and exits, so there are never two leaders. The standby's
  next poll after PostgreSQL freed the lock makes it the leader.

With SQLite there is no pair: one process serves, and leadership is always its own.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

import gevent
from gevent.event import AsyncResult
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from engine.metrics import Metrics
from engine.store.db import make_engine

log = logging.getLogger(__name__)

LOCK_KEY = 0x686F746C  # "hotl": one lock per database; a second pair on the same database needs its own
KEEPALIVE = {"keepalives": 1, "keepalives_idle": 2, "keepalives_interval": 1, "keepalives_count": 2}
"""libpq TCP keepalives on the lock session, so both ends notice a dead peer within seconds."""


class Leadership:
    """The advisory lock that makes one process of a pair the leader (see the module docstring)."""

    def __init__(
        self,
        url: str,
        *,
        key: int = LOCK_KEY,
        poll_seconds: float = 1.0,
        check_seconds: float = 1.0,
        metrics: Metrics | None = None,
    ) -> None:
        self.key = key
        self.poll_seconds = poll_seconds
        self.check_seconds = check_seconds
        self.metrics = metrics
        self.url = url
        self.shared = make_url(url).get_backend_name() != "postgresql"  # SQLite: a single process
        self._engine: Engine | None = None
        self._session: Connection | None = None
        self.lost = AsyncResult()
        """Set to the reason once leadership is lost (never set with SQLite)."""

    @property
    def is_leader(self) -> bool:
        return self.shared or (self._session is not None and not self.lost.ready())

    def try_acquire(self) -> bool:
        """Take the lock if it is free; whether this process is now the leader."""
        if self.is_leader:
            return True
        session = self._connect()
        try:
            got = bool(session.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar())
        except DBAPIError as exc:
            log.warning("leadership: the database did not answer: %s", exc.orig)
            self._drop()
            return False
        if not got:
            return False
        self._session = session
        self.lost = AsyncResult()
        self._gauge(1)
        log.warning("leadership: this process is the leader (advisory lock %d)", self.key)
        return True

    def acquire(self, stopping: Callable[[], bool] = lambda: False) -> bool:
        """Wait as the standby until this process leads (True), or ``stopping()`` says to give up (False)."""
        announced = False
        while not self.try_acquire():
            if not announced:
                log.warning("leadership: standby, waiting for the leader's lock %d to be free", self.key)
                self._gauge(0)
                announced = True
            if stopping():
                return False
            gevent.sleep(self.poll_seconds)
        return True

    def check(self) -> str | None:
        """Ask the lock session whether it still holds the lock: None if so, else why not (and lose it)."""
        if self.shared or self.lost.ready():
            return None if self.shared else str(self.lost.get())
        if self._session is None:
            return "not the leader"
        why = None
        try:
            with gevent.Timeout(self.check_seconds, TimeoutError("no answer in time")):
                held = self._session.execute(
                    text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :k "
                         "AND pid = pg_backend_pid() AND granted"),
                    {"k": self.key},
                ).scalar()  # fmt: skip
            if not held:
                why = "the lock is no longer this session's"
        except (DBAPIError, TimeoutError) as exc:
            why = f"the lock session failed: {getattr(exc, 'orig', exc)}"
        if why is not None:
            self._lose(why)
        return why

    def watch(self) -> gevent.Greenlet:
        """Check every ``check_seconds`` until leadership is lost (``lost`` is then set)."""

        def run() -> None:
            while self.check() is None and not self.shared:
                gevent.sleep(self.check_seconds)

        return gevent.spawn(run)

    def release(self) -> None:
        """Give the lock back (a clean stop): the standby takes over at its next poll."""
        if self._session is not None and not self.lost.ready():
            with contextlib.suppress(DBAPIError):  # the session is going anyway: PostgreSQL frees its locks
                self._session.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
        self._drop()

    # ---- helpers ----------------------------------------------------------------------------

    def _connect(self) -> Connection:
        if self._engine is None:
            self._engine = make_engine(self.url, poolclass=NullPool, connect_args=dict(KEEPALIVE))
        return self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    def _lose(self, why: str) -> None:
        log.critical("leadership lost: %s", why)
        self._gauge(0)
        if not self.lost.ready():
            self.lost.set(why)
        self._drop()

    def _drop(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            with contextlib.suppress(DBAPIError):
                session.invalidate()  # never back to a pool: the lock dies with the connection
                session.close()

    def _gauge(self, value: int) -> None:
        if self.metrics is not None:
            self.metrics.leader.set(value)

"""A database that goes away on demand: every statement on an engine fails with OperationalError while
``down`` is set, as when PostgreSQL is stopped or the SQLite file cannot be written (the tests run as
root, for whom a read-only file is still writable)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import OperationalError


class Outage:
    """``Outage(engine)``; set ``down`` to make every statement fail, clear it to bring the database back."""

    def __init__(self, engine: Engine) -> None:
        self.down = False
        self.refused = 0
        event.listen(engine, "before_cursor_execute", self._check)

    def _check(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if self.down:
            self.refused += 1
            raise OperationalError(statement, None, ConnectionRefusedError("the database is down (test outage)"))

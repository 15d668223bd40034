"""Logging set-up for the engine process: one line per record, UTC timestamps."""

from __future__ import annotations

import logging
import time

FORMAT = "%(asctime)sZ %(levelname)-7s %(name)s: %(message)s"


class OneLineFormatter(logging.Formatter):
    """Writes CR and LF inside a record (a caller's value, FreeSWITCH's text, a traceback) as ``\\r``
    and ``\\n``: a record is one line, and nothing logged can start a line that looks like another."""

    converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\r", "\\r").replace("\n", "\\n")


def setup_logging(level: str) -> None:
    """Records at ``level`` and above to stderr, one line each."""
    handler = logging.StreamHandler()
    handler.setFormatter(OneLineFormatter(FORMAT))
    logging.basicConfig(level=level, handlers=[handler])

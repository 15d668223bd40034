"""Logging set-up for the engine process: one line per record, UTC timestamps."""

from __future__ import annotations

import logging
import time


def setup_logging(level: str) -> None:
    logging.Formatter.converter = time.gmtime
    logging.basicConfig(level=level, format="%(asctime)sZ %(levelname)-7s %(name)s: %(message)s")

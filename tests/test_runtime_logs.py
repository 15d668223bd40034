"""The engine process's logging, as its operator reads it on stderr: one line per record, UTC
timestamps whatever the machine's zone, records below the level left out. Run in a fresh interpreter,
as ``hotline run`` sets it up (pytest's own log capture would otherwise own the root logger)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINE = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d{3}Z (DEBUG|INFO|WARNING|ERROR)\s+(\S+): (.*)")

PROGRAM = """
import logging, sys
from engine.runtime.logs import setup_logging
setup_logging(sys.argv[1])
logging.getLogger("engine.runtime.call_session").info("caller %s", "07700\\nFAKE ERROR forged line\\r")
logging.getLogger("engine.acd").debug("a detail")
try:
    1 / 0
except ZeroDivisionError:
    logging.getLogger("engine.runtime.callbacks").exception("dialling failed")
"""


def run(level: str) -> list[str]:
    env = {**os.environ, "TZ": "Asia/Tokyo", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, level], capture_output=True, text=True, env=env, cwd=ROOT, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return done.stderr.splitlines()


def test_each_record_is_one_line_with_a_utc_timestamp_level_and_logger() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    lines = run("INFO")
    after = datetime.now(UTC)
    assert len(lines) == 2, lines  # the debug record is below the level; nothing spills onto a line of its own
    parsed = [LINE.fullmatch(line) for line in lines]
    assert all(parsed), lines
    assert [(m.group(2), m.group(3)) for m in parsed if m] == [
        ("INFO", "engine.runtime.call_session"),
        ("ERROR", "engine.runtime.callbacks"),
    ]
    for m in parsed:
        assert m is not None
        at = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        assert before - timedelta(seconds=1) <= at <= after  # UTC, not Tokyo's +09:00
    info, error = (m.group(4) for m in parsed if m)
    assert info.startswith("caller 07700") and "FAKE ERROR forged line" in info
    assert error.startswith("dialling failed") and "ZeroDivisionError" in error  # the traceback is kept


def test_debug_level_shows_debug_records() -> None:
    lines = run("DEBUG")
    assert any(line.endswith("DEBUG   engine.acd: a detail") for line in lines)

"""The ESL transcripts recorded from a real FreeSWITCH (``tests/transcripts/``; its README says how).

They live in the repository, so a fresh clone anywhere runs the fidelity, codec and fuzz tests.
``HOTLINE_ESL_TRANSCRIPTS`` names another folder (a new recording by ``python -m tests.record_transcripts``
before it is copied in); a folder without transcripts fails the tests, never skips them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

TRANSCRIPT_DIR = Path(os.environ.get("HOTLINE_ESL_TRANSCRIPTS") or Path(__file__).resolve().parent / "transcripts")


@dataclass(frozen=True)
class Line:
    dir: str
    t: float
    frame: str


def transcript_files() -> list[Path]:
    return sorted(TRANSCRIPT_DIR.glob("*.jsonl"))


def load(name: str) -> list[Line]:
    """The lines of transcript ``name``; fails (never skips) when it is missing or malformed."""
    path = TRANSCRIPT_DIR / name
    if not path.exists():
        pytest.fail(f"ESL transcript {path} not found: the emulator cannot be checked against FreeSWITCH")
    lines = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if raw.strip():
            try:
                lines.append(Line(**json.loads(raw)))
            except (ValueError, TypeError) as error:
                pytest.fail(f"{path}:{number}: not a transcript line ({error})")
    return lines


def require_transcripts() -> list[Path]:
    files = transcript_files()
    if not files:
        pytest.fail(f"no ESL transcripts in {TRANSCRIPT_DIR}: the emulator cannot be checked against FreeSWITCH")
    return files

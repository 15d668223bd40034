"""Access to the ESL transcripts recorded from a real FreeSWITCH 1.11.2 (``../shared/esl``)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

TRANSCRIPT_DIR = Path(os.environ.get("HOTLINE_ESL_TRANSCRIPTS", Path(__file__).parents[1] / ".." / "shared" / "esl"))


@dataclass(frozen=True)
class Line:
    dir: str
    t: float
    frame: str


def transcript_files() -> list[Path]:
    return sorted(TRANSCRIPT_DIR.glob("*.jsonl"))


def load(name: str) -> list[Line]:
    path = TRANSCRIPT_DIR / name
    if not path.exists():
        pytest.skip(f"ESL transcripts not found at {TRANSCRIPT_DIR}")
    return [Line(**json.loads(raw)) for raw in path.read_text().splitlines() if raw.strip()]


def require_transcripts() -> list[Path]:
    files = transcript_files()
    if not files:
        pytest.fail(f"no ESL transcripts in {TRANSCRIPT_DIR}: the emulator cannot be checked against FreeSWITCH")
    return files

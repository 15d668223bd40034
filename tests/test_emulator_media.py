"""Prompt durations and recorded files."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from engine.emulator import media


@pytest.mark.parametrize(
    ("path", "seconds"),
    [
        ("tone_stream://%(1000,0,440);loops=2", 2.0),
        ("tone_stream://%(300,0,440)", 0.3),
        ("silence_stream://200", 0.2),
        ("local_stream://moh", None),
        ("ivr/welcome.wav", media.FILE_SECONDS),
        ("a.wav!b.wav", 2 * media.FILE_SECONDS),
        ("{timeout=2500}local_stream://moh", 2.5),  # switch_core_file_open's max_samples: music in chunks
        ("{loops=1,timeout=500}tone_stream://%(1000,0,440)", 0.5),
        ("{timeout=5000}tone_stream://%(1000,0,440)", 1.0),
        ("{timeout=0}local_stream://moh", None),
    ],
)
def test_play_seconds(path: str, seconds: float | None) -> None:
    assert media.play_seconds(path) == seconds


def test_write_wav_makes_a_valid_file(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "rec.wav"
    media.write_wav(str(target), 0.5)
    with wave.open(str(target)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getnframes()) == (8000, 1, 4000)

"""Media stand-ins: how long a prompt plays, and the small WAV files recordings leave behind."""

from __future__ import annotations

import re
import wave
from pathlib import Path

FILE_SECONDS = 1.0  # an ordinary sound file plays this long
SPEAK_SECONDS_PER_WORD = 0.3
_TONE = re.compile(r"%\((\d+),(\d+),[^)]*\)")


def play_seconds(path: str) -> float | None:
    """Duration of ``playback``'s argument; None for sources that never end (``local_stream://``).
    A leading ``{timeout=ms}`` file parameter (switch_core_file_open's ``max_samples``) caps it."""
    if path.startswith("{") and "}" in path:
        params, _, rest = path[1:].partition("}")
        seconds = play_seconds(rest)
        for param in params.split(","):
            name, _, value = param.partition("=")
            if name.strip() == "timeout" and value.strip().isdigit() and int(value) > 0:
                limit = int(value) / 1000
                seconds = limit if seconds is None else min(seconds, limit)
        return seconds
    if path.startswith("local_stream://"):
        return None
    if path.startswith("silence_stream://"):
        ms = path.removeprefix("silence_stream://").split(",")[0]
        return None if ms.strip() in ("-1", "0", "") else int(ms) / 1000
    if path.startswith("tone_stream://"):
        spec = path.removeprefix("tone_stream://")
        loops_match = re.search(r"loops=(-?\d+)", spec)
        loops = int(loops_match.group(1)) if loops_match else 1
        if loops < 0:
            return None
        ms = sum(int(on) + int(off) for on, off in _TONE.findall(spec))
        return ms * loops / 1000
    return sum(FILE_SECONDS for _ in path.split("!"))


def speak_seconds(text: str) -> float:
    return max(len(text.split()), 1) * SPEAK_SECONDS_PER_WORD


def write_wav(path: str, seconds: float) -> None:
    """A valid 8 kHz 16-bit mono WAV of silence, so callers can check the file exists and opens."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(target), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * int(8000 * max(seconds, 0.02)))

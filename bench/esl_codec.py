"""ESL codec throughput on the frames of the real FreeSWITCH transcripts (tests/transcripts).

Prints frames/s and MB/s for: parsing the whole recorded stream in 4 KiB chunks, decoding the
events in it (plain and json apart; plain events decode lazily, so also: decoded and three headers
read, and decoded with every header; best of five), and building the same events again (what the emulator does).
Usage: python bench/esl_codec.py [ROUNDS]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from engine.esl import codec

TRANSCRIPTS = Path(__file__).resolve().parents[1] / "tests" / "transcripts"


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    frames = [
        json.loads(line)["frame"].encode()
        for path in sorted(TRANSCRIPTS.glob("*.jsonl"))
        for line in path.read_text().splitlines()
        if json.loads(line)["dir"] == "recv"
    ]
    stream = b"".join(frames)
    started = time.process_time()
    parsed: list = []
    for _ in range(rounds):
        parser = codec.FrameParser()
        parsed = []
        for pos in range(0, len(stream), 4096):
            parsed.extend(parser.feed(stream[pos : pos + 4096]))
    parse_s = time.process_time() - started
    events = [f for f in parsed if f.content_type.startswith("text/event-")]
    started = time.process_time()
    decoded = [codec.parse_event(f) for _ in range(rounds) for f in events]
    decode_s = time.process_time() - started
    for ctype in ("text/event-plain", "text/event-json"):
        some = [f for f in events if f.content_type == ctype]
        for label, read in (
            ("decode", lambda e: e),
            ("+ 3 headers", lambda e: (e.name, e.uuid, e.get("Channel-State"))),
            ("+ all headers", lambda e: e.headers),
        ):
            best = float("inf")
            for _ in range(5):  # the best of five: the machine is shared
                started = time.process_time()
                for _ in range(rounds):
                    for f in some:
                        read(codec.parse_event(f))
                best = min(best, time.process_time() - started)
            rate = len(some) * rounds / best
            print(f"{ctype[5:]:11s} {label:14s}: {rate:10.0f} events/s")
    started = time.process_time()
    for event in decoded:
        codec.event_plain(event.pairs, event.body)
    build_s = time.process_time() - started
    n, mb = len(frames) * rounds, len(stream) * rounds / 1e6
    print(f"frames: {len(frames)} ({len(stream) / 1e3:.0f} kB), {len(events)} events, {rounds} rounds")
    print(f"parse frames : {n / parse_s:10.0f} frames/s  {mb / parse_s:6.1f} MB/s")
    print(f"decode events: {len(decoded) / decode_s:10.0f} events/s")
    print(f"build events : {len(decoded) / build_s:10.0f} events/s (plain)")


if __name__ == "__main__":
    main()

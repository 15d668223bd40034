"""Long-running fuzzer for the ESL codec: recorded FreeSWITCH frames, mutated and split at random.

Every input is fed to FrameParser in random pieces (events decoded with parse_event) and to
CommandParser. Anything raised other than the codec's ESLProtocolError is a finding, as is a
frame over the limits. Prints inputs run, outcomes and errors by type, the slowest input and peak
memory. The test suite runs the same idea for seconds (tests/test_esl_fuzz.py).

Usage: python bench/esl_fuzz.py [--seconds S] [--inputs N] [--seed K]
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import random
import resource
import time
import traceback
from pathlib import Path

from engine.esl import codec

TRANSCRIPTS = Path(__file__).resolve().parents[1].parent / "shared" / "esl"
LIMITS = codec.Limits(header_bytes=8192, headers=200, body_bytes=8192)  # recorded frames cross these
HOSTILE = [b"-1", b"1e3", b"0x10", b"+5", b" 5", b"\xd9\xa1", b"9" * 30, b"1000000000000", b"", b"5 5"]
INSERTS = [b"\n", b"\n\n", b":", b"%", b"%ZZ", b"\xff\xfe", b"\r\n", b"[", b'{"a":' * 50, b"[" * 5000]


def seeds() -> tuple[list[bytes], list[bytes]]:
    recv, send = [], []
    for path in sorted(TRANSCRIPTS.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                item = json.loads(line)
                (recv if item["dir"] == "recv" else send).append(item["frame"].encode())
    if not recv:
        raise SystemExit(f"no transcripts in {TRANSCRIPTS}")
    return recv, send


def mutate(rng: random.Random, pool: list[bytes]) -> bytes:
    data = bytearray(rng.choice(pool))
    if rng.random() < 0.5:
        data += rng.choice(pool)
    for _ in range(rng.randint(0, 6)):
        op, pos = rng.randrange(7), rng.randint(0, len(data))
        if op == 0 and pos < len(data):
            data[pos] = rng.randrange(256)
        elif op == 1:
            data[pos:pos] = rng.choice(INSERTS)
        elif op == 2:
            del data[pos : pos + rng.randint(1, 64)]
        elif op == 3:
            data[pos:pos] = data[pos : pos + rng.randint(1, 4096)]
        elif op == 4 and (at := data.find(b"Content-Length: ")) >= 0:
            end = data.find(b"\n", at)
            data[at + 16 : end if end >= 0 else len(data)] = rng.choice(HOSTILE)
        elif op == 5:
            del data[pos:]
        elif op == 6:
            data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 32)))
    return bytes(data)


def split(rng: random.Random, data: bytes) -> list[bytes]:
    cuts = sorted(rng.sample(range(len(data) + 1), min(len(data) + 1, rng.randint(0, 12))))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def run_one(rng: random.Random, data: bytes, parser_cls: type, outcomes: collections.Counter) -> None:
    parser = parser_cls(LIMITS)
    for piece in split(rng, data):
        for item in parser.feed(piece):
            if isinstance(item, codec.MalformedFrame):
                outcomes["malformed (too large)" if item.too_large else "malformed"] += 1
                continue
            outcomes["frame" if isinstance(item, codec.Frame) else "command"] += 1
            if len(item.pairs) > LIMITS.headers or len(item.body) > LIMITS.body_bytes:
                raise AssertionError(f"frame over the limits: {len(item.pairs)} headers, {len(item.body)} body")
            if isinstance(item, codec.Frame) and item.content_type.startswith("text/event-"):
                try:
                    event = codec.parse_event(item, LIMITS)
                except codec.ESLProtocolError:
                    outcomes["bad event"] += 1
                    continue
                outcomes["event"] += 1
                for name, value in event.pairs:
                    (name + value + event.body).encode()


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--seconds", type=float, default=120.0)
    args.add_argument("--inputs", type=int, default=0, help="stop after N inputs (0: run for --seconds)")
    args.add_argument("--seed", type=int, default=12)
    opts = args.parse_args()
    rng = random.Random(opts.seed)
    recv, send = seeds()
    outcomes: collections.Counter = collections.Counter()
    errors: collections.Counter = collections.Counter()
    first_error: dict[str, str] = {}
    inputs, slowest, started = 0, 0.0, time.monotonic()
    while (inputs < opts.inputs) if opts.inputs else (time.monotonic() - started < opts.seconds):
        commands = inputs % 4 == 3  # one in four inputs goes to the emulator's CommandParser
        data = mutate(rng, send if commands else recv)
        t0 = time.process_time()
        try:
            run_one(rng, data, codec.CommandParser if commands else codec.FrameParser, outcomes)
        except Exception as exc:  # a finding: the codec raised something it does not document
            name = type(exc).__name__
            errors[name] += 1
            first_error.setdefault(name, f"{data[:200]!r}\n{traceback.format_exc()}")
        slowest = max(slowest, time.process_time() - t0)
        inputs += 1
    elapsed = time.monotonic() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"inputs run      : {inputs} in {elapsed:.0f} s ({inputs / elapsed:.0f}/s), seed {opts.seed}")
    print(f"outcomes        : {dict(sorted(outcomes.items()))}")
    print(f"errors by type  : {dict(errors) or 'none (0 findings)'}")
    print(f"max time/input  : {slowest * 1000:.1f} ms (CPU)")
    print(f"peak memory     : {peak_mib:.0f} MiB (max RSS of the process)")
    for name, example in first_error.items():
        print(f"--- first {name} ---\n{example}")


if __name__ == "__main__":
    main()

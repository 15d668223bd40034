"""ESL read path, side by side: greenswitch's InboundESL against hotline's Connection on one stream.

A server on 127.0.0.1 (a thread of this process) greets, accepts ``auth`` and, on ``event ...``,
replays the plain CHANNEL_* events recorded from a real FreeSWITCH (``tests/transcripts``), repeated
to ``--events`` events. Each reader runs in its own process (this script with ``--reader``), reads
the stream with a handler for every event and reports the events it handled per CPU-second of its
own process (``time.process_time``), from just before it subscribes until the last event was
handled. Readers alternate (A B A B ...) over ``--rounds`` rounds; the medians are printed.

Readers:
  greenswitch    greenswitch.esl.InboundESL, handler on ``*``
  hotline        engine.transport.Connection, handler on ``*``
  hotline-json   the same, the same events sent as ``text/event-json`` (what the engine subscribes to)

``--touch`` makes every handler read three headers (Event-Name, Unique-ID, Channel-State) instead
of none. ``--before DIR`` adds the readers ``before`` and ``before-json``: hotline's Connection
imported from DIR, e.g. an older ``engine`` exported with
``git archive b0a2c97 engine | tar -x -C /tmp/before``, so before and after share one run.
Usage: PYTHONPATH=. python bench/esl_read.py [--events N] [--rounds R] [--touch] [--before DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

TRANSCRIPTS = Path(__file__).resolve().parents[1] / "tests" / "transcripts"
PASSWORD = "ClueCon"
READERS = ("greenswitch", "hotline", "hotline-json")


def recorded_events() -> list[bytes]:
    """Every plain CHANNEL_* event frame a real FreeSWITCH sent, as recorded."""
    frames = []
    for path in sorted(TRANSCRIPTS.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            item = json.loads(line)
            plain = "Content-Type: text/event-plain" in item["frame"].split("\n\n", 1)[0]
            if item["dir"] == "recv" and plain and "Event-Name: CHANNEL_" in item["frame"]:
                frames.append(item["frame"].encode())
    if not frames:
        sys.exit(f"no plain CHANNEL_* events in {TRANSCRIPTS}")
    return frames


def as_json(frames: list[bytes]) -> list[bytes]:
    from engine.esl import codec

    out = []
    for raw in frames:
        (frame,) = codec.FrameParser().feed(raw)
        event = codec.parse_event(frame)  # type: ignore[arg-type]
        out.append(codec.event_json(event.pairs, event.body))
    return out


def _read_command(conn: socket.socket, buf: bytearray) -> str:
    while b"\n\n" not in buf:
        data = conn.recv(4096)
        if not data:
            return ""
        buf += data
    end = buf.index(b"\n\n")
    text = bytes(buf[:end]).decode()
    del buf[: end + 2]
    return text


def _serve_one(conn: socket.socket, block: bytes, repeats: int) -> None:
    buf = bytearray()
    with conn:
        conn.sendall(b"Content-Type: auth/request\n\n")
        while cmd := _read_command(conn, buf):
            word = cmd.split()[0] if cmd.split() else ""
            text = "+OK accepted" if word == "auth" else "+OK"
            conn.sendall(f"Content-Type: command/reply\nReply-Text: {text}\n\n".encode())
            if word == "event":
                for _ in range(repeats):
                    conn.sendall(block)
            elif word == "exit":
                return


def serve(server: socket.socket, blocks: dict[str, bytes], repeats: int, fmt: list[str]) -> None:
    """Accept readers one at a time; each gets the stream in the format ``fmt[0]`` names then."""
    while True:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with contextlib.suppress(OSError):
            _serve_one(conn, blocks[fmt[0]], repeats)


# ---- readers (each in its own process) --------------------------------------------------------


def read_greenswitch(port: int, total: int, touch: bool) -> float:
    import gevent
    from greenswitch.esl import InboundESL

    done = gevent.event.Event()
    seen = [0]

    def handler(event) -> None:
        if touch:
            h = event.headers
            (h.get("Event-Name"), h.get("Unique-ID"), h.get("Channel-State"))
        seen[0] += 1
        if seen[0] == total:
            done.set()

    esl = InboundESL("127.0.0.1", port, PASSWORD)
    esl.register_handle("*", handler)
    esl.connect()
    started = time.process_time()
    esl.send("event plain ALL")
    done.wait()
    cpu = time.process_time() - started
    esl._run = False
    esl.sock.close()
    return cpu


def read_hotline(port: int, total: int, touch: bool) -> float:
    import gevent
    from gevent import socket as gsocket

    from engine.esl import codec
    from engine.transport import Connection

    done = gevent.event.Event()
    seen = [0]

    def handler(event) -> None:
        if touch:
            (event.name, event.uuid, event.get("Channel-State"))
        seen[0] += 1
        if seen[0] == total:
            done.set()

    conn = Connection(gsocket.create_connection(("127.0.0.1", port)), name="bench")
    conn.register_handle("*", handler)
    conn.start()
    conn._auth_request_event.wait(5)
    assert conn.send_frame(codec.auth(PASSWORD)).ok
    started = time.process_time()
    conn.send_frame(codec.event_subscribe("plain", ["ALL"]))
    done.wait()
    cpu = time.process_time() - started
    conn.abort("done")
    return cpu


def child(args: argparse.Namespace) -> None:
    reader = read_greenswitch if args.reader == "greenswitch" else read_hotline
    cpu = reader(args.port, args.events, args.touch)
    print(json.dumps({"reader": args.reader, "events": args.events, "cpu": cpu}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000, help="events per reader and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--readers", default=",".join(READERS))
    parser.add_argument("--touch", action="store_true", help="handlers read three headers of every event")
    parser.add_argument("--before", help="a directory holding an older engine/ to read with as well")
    parser.add_argument("--reader", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reader:
        return child(args)

    plain = recorded_events()
    repeats = max(1, args.events // len(plain))
    total = repeats * len(plain)
    blocks = {"plain": b"".join(plain), "json": b"".join(as_json(plain))}
    readers = args.readers.split(",")
    if args.before:
        readers = [r for reader in readers for r in (reader, reader.replace("hotline", "before"))]
        readers = list(dict.fromkeys(readers))
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    fmt = ["plain"]
    threading.Thread(target=serve, args=(server, blocks, repeats, fmt), daemon=True).start()
    print(
        f"{total} events per reader and round ({len(plain)} recorded plain CHANNEL_* events x {repeats}, "
        f"{len(blocks['plain']) * repeats / 1e6:.0f} MB plain), handlers {'read 3 headers' if args.touch else 'no-op'}"
    )
    rates: dict[str, list[float]] = {r: [] for r in readers}
    for n in range(args.rounds):
        for reader in readers:
            fmt[0] = "json" if reader.endswith("-json") else "plain"
            cmd = [sys.executable, __file__, "--reader", reader, "--port", str(port), "--events", str(total)]
            env = {**os.environ, "PYTHONPATH": args.before} if reader.startswith("before") else None
            cmd += ["--touch"] if args.touch else []
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
            if out.returncode:
                sys.exit(f"{reader} failed:\n{out.stderr[-2000:]}")
            cpu = json.loads(out.stdout.strip().splitlines()[-1])["cpu"]
            rates[reader].append(total / cpu)
            print(f"round {n + 1} {reader:13s} {total / cpu:10.0f} events/CPU-s", flush=True)
    server.close()
    medians = {r: statistics.median(v) for r, v in rates.items()}
    print("\nmedians (events per CPU-second):")
    base = medians.get("greenswitch")
    for reader, rate in medians.items():
        ratio = f"  {rate / base:5.2f}x greenswitch" if base and reader != "greenswitch" else ""
        print(f"  {reader:13s} {rate:10.0f}{ratio}")


if __name__ == "__main__":
    main()

"""Fuzzing the ESL codec and a live connection with frames of a real FreeSWITCH, mutated and split.

Seeds are every frame of the transcripts in ``tests/transcripts``. Hypothesis mutates them (bytes
flipped, inserted, deleted, duplicated; Content-Length rewritten to hostile values; frames
spliced) and cuts the result into pieces. Time-boxed for CI: fixed example counts, derandomized.
``bench/esl_fuzz.py`` runs the same mutations for longer.
"""

from __future__ import annotations

import itertools
import json
import time

import gevent
from gevent import socket
from gevent.queue import Queue
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.esl import codec
from engine.transport import Connection
from tests.esl_transcripts import load, require_transcripts
from tests.test_esl_codec import reference_event

# small enough that recorded frames cross them (a SIP call's channel data: 9.1 kB, 236 headers)
LIMITS = codec.Limits(header_bytes=8192, headers=200, body_bytes=8192)
SEEDS = [line.frame.encode() for p in require_transcripts() for line in load(p.name) if line.dir == "recv"]
COMMANDS = [line.frame.encode() for p in require_transcripts() for line in load(p.name) if line.dir == "send"]
HOSTILE_LENGTHS = [b"-1", b"1e3", b"0x10", b"+5", b" 5", b"\xd9\xa1", b"9" * 30, b"1000000000000", b"", b"5 5"]
FUZZ = settings(
    max_examples=300,
    derandomize=True,
    deadline=2000,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A recorded frame (or two spliced) with a few mutations."""
    data = bytearray(draw(st.sampled_from(seeds)))
    if draw(st.booleans()):
        data += draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "duplicate", "length", "truncate"]))
        pos = draw(st.integers(0, len(data)))
        if op == "flip" and pos < len(data):
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.sampled_from([b"\n", b"\n\n", b":", b"%", b"%ZZ", b"\xff\xfe", b"\r\n", b"["]))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 64))]
        elif op == "duplicate":
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 4096))]
        elif op == "length" and (at := data.find(b"Content-Length: ")) >= 0:
            end = data.find(b"\n", at)
            data[at + 16 : end if end >= 0 else len(data)] = draw(st.sampled_from(HOSTILE_LENGTHS))
        elif op == "truncate":
            del data[pos:]
    return bytes(data)


@st.composite
def pieces(draw: st.DrawFn, data: bytes) -> list[bytes]:
    cuts = sorted(set(draw(st.lists(st.integers(0, len(data)), max_size=12))))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def _until_first_malformed(items: list) -> list:
    for i, item in enumerate(items):
        if isinstance(item, codec.MalformedFrame):
            return items[: i + 1]
    return items


def _check_frame(frame: codec.Frame) -> None:
    assert len(frame.pairs) <= LIMITS.headers
    assert len(frame.body) <= LIMITS.body_bytes  # characters, each from at least one byte
    if frame.content_type.startswith("text/event-"):
        try:
            event = codec.parse_event(frame, LIMITS)
        except codec.ESLProtocolError:
            return
        assert len(event.pairs) <= LIMITS.headers
        for name, value in event.pairs:  # every value can be logged, stored, sent on
            (name + value + event.body).encode()


@FUZZ
@given(st.data())
def test_frame_parser_is_total_bounded_and_independent_of_how_the_input_is_split(data):
    raw = data.draw(mutated(SEEDS))
    whole = codec.FrameParser(LIMITS).feed(raw)
    parser = codec.FrameParser(LIMITS)
    split = [item for piece in data.draw(pieces(raw)) for item in parser.feed(piece)]
    assert _until_first_malformed(split) == _until_first_malformed(whole)
    for item in whole:
        if isinstance(item, codec.Frame):
            _check_frame(item)
        else:
            assert item.reason and len(item.raw) <= 256


@FUZZ
@given(st.data())
def test_command_parser_is_total_and_independent_of_how_the_input_is_split(data):
    raw = data.draw(mutated(COMMANDS))
    whole = codec.CommandParser(LIMITS).feed(raw)
    parser = codec.CommandParser(LIMITS)
    split = [item for piece in data.draw(pieces(raw)) for item in parser.feed(piece)]
    assert _until_first_malformed(split) == _until_first_malformed(whole)


@FUZZ
@given(st.sampled_from(["text/event-json", "text/event-plain"]), st.binary(max_size=2048) | st.text(max_size=2048))
def test_parse_event_raises_only_protocol_errors_for_any_body(ctype, body):
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        event = codec.parse_event(codec.Frame.of({"Content-Type": ctype}, text), LIMITS)
    except codec.ESLProtocolError:
        return
    for name, value in event.pairs:
        (name + value + event.body).encode()


PLAIN_SEEDS = [seed for seed in SEEDS if b"text/event-plain" in seed.partition(b"\n\n")[0]]
PROBES = ["", "Event-Name", "Unique-ID", "Content-Length", "Hangup-Cause", "a b", "X\nY", "Event-Name:", ":"]


def _reads_as_the_oracle(frame: codec.Frame) -> None:
    """``parse_event`` (lazy or not) reads ``frame`` exactly as the line-by-line oracle does, or both refuse."""
    try:
        want = reference_event(frame.body)
    except ValueError:
        want = None
    try:
        event = codec.parse_event(frame)
    except codec.FrameTooLarge:
        return
    except codec.ESLProtocolError:
        assert want is None
        return
    assert want is not None, "the codec accepted an event the wire rules refuse"
    pairs, body = want
    lookup = dict(pairs)
    keys = [*lookup, *PROBES]
    assert {k: event.get(k, "?") for k in keys} == {k: lookup.get(k, "?") for k in keys}  # lookups first: lazily
    assert event.pairs == tuple(pairs) and event.body == body


@FUZZ
@given(st.data())
def test_plain_events_read_as_a_line_by_line_parse_whatever_the_mutation(data):
    for frame in codec.FrameParser().feed(data.draw(mutated(PLAIN_SEEDS))):
        if isinstance(frame, codec.Frame) and frame.content_type == "text/event-plain":
            _reads_as_the_oracle(frame)


# the pieces of a header line that decide how it is read: few names (so they repeat), odd separators
NAMES = st.sampled_from(["A", "b", "", "A:b", "A b", "Event-Name", "Content-Length"]) | st.text(
    "Ab-:% \xe9", max_size=5
)
SEPARATORS = st.sampled_from([": ", ": ", ": ", ":", " ", ": : ", ":x "])
VALUES = st.sampled_from(["", "1", "2", "%41", "%ZZ", "a b", "x: y", "\xe9"]) | st.text("Ab%3:\xe9 ", max_size=6)
LINES = st.lists(st.tuples(NAMES, SEPARATORS, VALUES).map("".join), min_size=1, max_size=8)


@FUZZ
@given(LINES, st.booleans())
def test_event_blocks_near_the_regular_form_read_as_a_line_by_line_parse(lines, own_body):
    """Blocks built of what decides the lazy path: colons, spaces, empty and repeated names, percents."""
    body = "\n".join(lines).encode() + (b"\nContent-Length: 2\n\nok" if own_body else b"\n\n")
    (frame,) = codec.FrameParser().feed(b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(body) + body)
    assert isinstance(frame, codec.Frame)
    _reads_as_the_oracle(frame)


SENTINEL = codec.event_json({"Event-Name": "CUSTOM", "Unique-ID": "sentinel"})


@settings(FUZZ, max_examples=120)
@given(st.data())
def test_a_connection_fed_mutated_frames_delivers_events_or_closes_itself(data):
    """Never 'connected' with a dead or stuck reader: after the input, a flush and a sentinel event
    either arrive, or the connection has closed (and said so to its handlers)."""
    raw = data.draw(mutated(SEEDS))
    ours, theirs = socket.socketpair()
    conn = Connection(ours, name="fuzz", timeout=5, limits=LIMITS)
    seen: Queue = Queue()
    conn.register_handle("CUSTOM", lambda e: seen.put(e.uuid))
    conn.register_handle("CONNECTION_CLOSED", lambda e: seen.put("closed"))
    conn.start()
    try:
        with gevent.Timeout(5):
            try:
                for piece in data.draw(pieces(raw)):
                    theirs.sendall(piece)
                # ends any body in progress (at most body_bytes) and any header block, then a good frame
                theirs.sendall(b"\n" * (LIMITS.body_bytes + 2) + SENTINEL)
            except OSError:
                pass  # hotline closed its end: that is one of the two allowed outcomes
            got = [seen.get()]
            while got[-1] not in ("sentinel", "closed"):
                got.append(seen.get())
        assert got[-1] == "closed" or conn.connected
        assert conn._receive_events_greenlet.exception is None
    finally:
        conn.abort("example done")  # no goodbye: the peer here answers nothing
        theirs.close()


def _feed_time(size: int, piece: int) -> float:
    parser = codec.FrameParser(codec.Limits(header_bytes=8 << 20))
    line = b"X-Long: " + b"a" * size
    started = time.process_time()
    for at in range(0, len(line), piece):
        assert parser.feed(line[at : at + piece]) == []
    assert parser.feed(b"\n\n")[0].headers["X-Long"] == "a" * size  # type: ignore[union-attr]
    return time.process_time() - started


def test_a_long_header_line_fed_in_small_pieces_costs_linear_time():
    """The finding: 1 MiB header line in small pieces took 46 s of CPU (a rescan per piece)."""
    small, large = _feed_time(256 << 10, 16), _feed_time(1 << 20, 16)
    assert large < 5, f"1 MiB in 16-byte pieces took {large:.1f} s"
    assert large < 8 * max(small, 0.01), f"4x the input took {large / small:.1f}x the time: not linear"


def test_a_long_header_line_byte_by_byte_is_cut_at_the_limit():
    parser = codec.FrameParser()  # default limits: 64 KiB header block
    out = [item for _ in range(70 * 1024) for item in parser.feed(b"a")]
    assert len(out) == 1 and isinstance(out[0], codec.MalformedFrame) and out[0].too_large


def test_an_oversized_body_is_counted_down_not_kept_and_the_stream_stays_in_step():
    parser = codec.FrameParser(LIMITS)
    out = parser.feed(b"Content-Type: api/response\nContent-Length: 100000\n\n")
    assert isinstance(out[0], codec.MalformedFrame) and out[0].too_large
    for _ in range(100):
        assert parser.feed(b"x" * 1000) == []
        assert len(parser._split._buf) == 0
    (frame,) = parser.feed(codec.api_response("+OK\n"))
    assert isinstance(frame, codec.Frame) and frame.body == "+OK\n"


JSON_VALUES = st.text(max_size=8) | st.integers() | st.none() | st.lists(st.integers(), max_size=2)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(["A", "B", "_body", "Content-Length"]) | st.text(max_size=6), JSON_VALUES)))
def test_json_events_read_as_their_object_says(members):
    """Every member in order (repeats kept), non-strings as JSON text, ``_body`` as the body."""
    text = "{" + ",".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in members) + "}"
    raw = text.encode("utf-8", "surrogatepass")
    (frame,) = codec.FrameParser().feed(b"Content-Length: %d\nContent-Type: text/event-json\n\n" % len(raw) + raw)
    try:
        event = codec.parse_event(frame)  # type: ignore[arg-type]
    except codec.FrameTooLarge:
        return
    as_text = [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in members]
    pairs = [(k, v) for k, v in as_text if k not in ("_body", "Content-Length")]
    if any("\\u" in json.dumps(k + v) for k, v in as_text):  # escapes: lone surrogates become U+FFFD
        pairs = [(k.encode("utf-8", "replace").decode(), v.encode("utf-8", "replace").decode()) for k, v in pairs]
    assert event.pairs == tuple(pairs)
    assert event.headers == dict(pairs) and {k: event.get(k) for k, _ in pairs} == dict(pairs)
    bodies = [v for k, v in as_text if k == "_body"]
    assert event.body.encode("utf-8", "replace") == (bodies[0] if bodies else "").encode("utf-8", "replace")

"""The ESL codec against frames recorded from a real FreeSWITCH, and against broken input."""

from __future__ import annotations

import random
from urllib.parse import quote, unquote

import pytest

from engine.esl import codec
from tests.esl_transcripts import load, require_transcripts


def reference_event(body: str) -> tuple[list[tuple[str, str]], str]:
    """The oracle: a ``text/event-plain`` body read line by line by the wire rules (codec's docstring).

    Returns the header pairs (values URL-decoded, ``Content-Length`` left out) and the event's own
    body; raises ValueError where the rules say the block is not an event.
    """
    head, blank, rest = body.partition("\n\n")
    pairs = []
    for line in head.split("\n"):
        if not line:
            continue
        at, skip = line.find(": "), 2
        if at < 0:
            at, skip = line.find(":"), 1
        name, value = line[:at], line[at + skip :]
        if at < 0 or not name or " " in name:
            raise ValueError(f"not a header line: {line!r}")
        pairs.append((name, unquote(value)))
    lengths = {value.strip() for name, value in pairs if name == "Content-Length"}
    length = (lengths.pop() or "0") if len(lengths) == 1 else "x" if lengths else "0"  # empty: no body
    if not (length.isascii() and length.isdigit() and len(length) <= 18):
        raise ValueError(f"bad Content-Length {length!r}")
    own = rest.encode()[: int(length)].decode("utf-8", "replace") if blank and int(length) else ""
    return [(name, value) for name, value in pairs if name != "Content-Length"], own


def _plain_event_frame(body: bytes) -> codec.Frame:
    """``body`` sent as FreeSWITCH sends an event, read back through the frame parser."""
    (frame,) = codec.FrameParser().feed(b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(body) + body)
    assert isinstance(frame, codec.Frame)
    return frame


def _recv_frames(name: str) -> list[bytes]:
    return [line.frame.encode() for line in load(name) if line.dir == "recv"]


def _reencode(frame: codec.Frame) -> bytes:
    """Build the same frame again with the emulator's (server-side) builders."""
    ctype = frame.content_type
    if ctype == "auth/request":
        return codec.auth_request()
    if ctype == "api/response":
        return codec.api_response(frame.body)
    if ctype == "text/event-plain":
        event = codec.parse_event(frame)
        return codec.event_plain(event.pairs, event.body)
    if ctype == "text/event-json":
        event = codec.parse_event(frame)
        return codec.event_json(event.pairs, event.body)
    if ctype == "text/disconnect-notice":
        if frame.headers.get("Content-Disposition") == "linger":
            linger = [(k, v) for k, v in frame.pairs if k not in ("Content-Type", "Content-Length")]
            return codec.disconnect_notice(linger)
        return codec.disconnect_notice()
    assert ctype == "command/reply"
    if frame.headers.get("Event-Name") == "CHANNEL_DATA":
        reply_keys = ("Content-Type", "Reply-Text", "Socket-Mode", "Control")
        return codec.channel_data_reply([(k, v) for k, v in frame.pairs if k not in reply_keys])
    extra = [(k, v) for k, v in frame.pairs if k not in ("Content-Type", "Reply-Text")]
    return codec.reply(frame.reply_text, extra)


@pytest.mark.parametrize("path", require_transcripts(), ids=lambda p: p.stem)
def test_every_recorded_frame_parses_alone_and_rebuilds_byte_for_byte(path):
    for raw in _recv_frames(path.name):
        frames = codec.FrameParser().feed(raw)
        assert len(frames) == 1, raw[:200]
        frame = frames[0]
        assert isinstance(frame, codec.Frame), frame
        head = dict(line.split(": ", 1) for line in raw.split(b"\n\n", 1)[0].decode().split("\n"))
        assert frame.content_type == head["Content-Type"]  # as the recorded header block says
        assert _reencode(frame) == raw


@pytest.mark.parametrize("path", require_transcripts(), ids=lambda p: p.stem)
def test_whole_stream_in_random_chunks_gives_the_same_frames(path):
    raws = _recv_frames(path.name)
    stream = b"".join(raws)
    rng = random.Random(path.name)
    parser = codec.FrameParser()
    got: list[codec.Frame | codec.MalformedFrame] = []
    pos = 0
    while pos < len(stream):
        step = rng.randint(1, 700)
        got.extend(parser.feed(stream[pos : pos + step]))
        pos += step
    assert [_reencode(f) for f in got] == raws  # type: ignore[arg-type]


def test_header_values_are_url_decoded_but_api_bodies_are_not():
    lines = load("06_outbound_socket_session.jsonl")
    connect_reply = codec.FrameParser().feed(lines[1].frame.encode())[0]
    assert connect_reply.reply_text == "+OK\n"
    assert connect_reply.headers["variable_current_application_data"] == "127.0.0.1:8084 async full"
    (api,) = codec.FrameParser().feed(b"Content-Type: api/response\nContent-Length: 6\n\n100%25")
    assert api.body == "100%25"


def test_plain_event_with_its_own_body():
    raw = next(r for r in _recv_frames("04_events_plain_originate_loopback.jsonl") if b"BACKGROUND_JOB" in r)
    event = codec.parse_event(codec.FrameParser().feed(raw)[0])  # type: ignore[arg-type]
    assert event.name == "BACKGROUND_JOB"
    assert (
        event.get("Job-Command-Arg")
        == "{origination_caller_id_number=13800138000,hotline_test=yes}loopback/9999 &park()"
    )
    assert event.body.startswith("+OK ") and event.body.endswith("\n")


def test_json_event_matches_plain_event_headers():
    def first(name: str, event_name: str) -> codec.Event:
        for raw in _recv_frames(name):
            frame = codec.FrameParser().feed(raw)[0]
            if isinstance(frame, codec.Frame) and frame.content_type.startswith("text/event"):
                event = codec.parse_event(frame)
                if event.name == event_name:
                    return event
        raise AssertionError(event_name)

    plain = first("04_events_plain_originate_loopback.jsonl", "BACKGROUND_JOB")
    js = first("04_events_json_originate_loopback.jsonl", "BACKGROUND_JOB")
    assert [k for k, _ in plain.pairs] == [k for k, _ in js.pairs]
    assert js.body.startswith("+OK ")


def test_duplicate_headers_are_kept_in_order():
    raw = next(r for r in _recv_frames("06_outbound_socket_session.jsonl") if b"CHANNEL_HANGUP_COMPLETE" in r[:120])
    event = codec.parse_event(codec.FrameParser().feed(raw)[0])  # type: ignore[arg-type]
    causes = [v for k, v in event.pairs if k == "Hangup-Cause"]
    assert causes == ["DESTINATION_OUT_OF_ORDER", "DESTINATION_OUT_OF_ORDER"]
    assert event.get("Hangup-Cause") == "DESTINATION_OUT_OF_ORDER"


def test_dtmf_digit_hash_is_decoded():
    digits = []
    for raw in _recv_frames("06_outbound_socket_session.jsonl"):
        frame = codec.FrameParser().feed(raw)[0]
        if isinstance(frame, codec.Frame) and frame.content_type == "text/event-plain":
            event = codec.parse_event(frame)
            if event.name == "DTMF":
                digits.append(event.get("DTMF-Digit"))
    assert digits == ["4", "2", "#"]


def test_malformed_header_block_is_reported_and_parsing_goes_on():
    parser = codec.FrameParser()
    out = parser.feed(b"this is not a header\n\nContent-Type: command/reply\nReply-Text: +OK\n\n")
    assert isinstance(out[0], codec.MalformedFrame)
    assert "Name: value" in out[0].reason
    assert isinstance(out[1], codec.Frame) and out[1].reply_text == "+OK"


def test_bad_content_length_is_malformed_not_fatal():
    out = codec.FrameParser().feed(b"Content-Type: api/response\nContent-Length: x\n\nContent-Type: auth/request\n\n")
    assert isinstance(out[0], codec.MalformedFrame)
    assert isinstance(out[1], codec.Frame) and out[1].content_type == "auth/request"


def test_oversized_header_block_is_dropped():
    parser = codec.FrameParser(codec.Limits(header_bytes=64))
    out = parser.feed(b"X" * 100)
    assert isinstance(out[0], codec.MalformedFrame)
    assert parser.feed(b"Content-Type: auth/request\n\n")[0].content_type == "auth/request"  # type: ignore[union-attr]


def test_bad_json_event_raises_protocol_error():
    frame = codec.Frame.of({"Content-Type": "text/event-json"}, "{nope")
    with pytest.raises(codec.ESLProtocolError):
        codec.parse_event(frame)


def test_client_commands_match_what_real_clients_sent():
    sent = [line.frame.encode() for line in load("06_outbound_socket_session.jsonl") if line.dir == "send"]
    assert codec.execute("answer", event_uuid="11111111-1111-1111-1111-111111111111") == sent[4]
    assert (
        codec.execute("playback", "tone_stream://%(300,0,440)", event_uuid="22222222-2222-2222-2222-222222222222")
        == sent[5]
    )
    assert codec.command("connect") == sent[0]
    assert codec.event_subscribe("plain", ["DTMF", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE"]) == sent[3]
    assert codec.auth("ClueCon") == load("01_auth_ok.jsonl")[1].frame.encode()
    assert codec.bgapi("status") == b"bgapi status\n\n"
    assert codec.bgapi("status", job_uuid="j-1") == b"bgapi status\nJob-UUID: j-1\n\n"


def test_url_encode_matches_freeswitch_unsafe_set():
    assert codec.url_encode("2026-11-23 03:14:55") == "2026-11-23%2003%3A14%3A55"
    assert codec.url_encode("tone_stream://%(300,0,440)") == "tone_stream%3A//%25(300,0,440)"
    assert codec.url_encode("fd00::2") == "fd00%3A%3A2"
    assert codec.url_encode("+OK\n") == "%2BOK%0A"
    assert codec.url_encode("杜") == "%E6%9D%9C"


def test_ok_reads_reply_text_or_api_body():
    assert codec.Frame.of({"Content-Type": "command/reply", "Reply-Text": "+OK accepted"}).ok
    assert not codec.Frame.of({"Content-Type": "command/reply", "Reply-Text": "-ERR invalid"}).ok
    assert not codec.Frame.of({"Content-Type": "api/response"}, "-ERR No such channel!\n").ok
    assert not codec.Frame.of({"Content-Type": "api/response"}, "-USAGE: <call url>\n").ok


def test_command_parser_reads_every_recorded_client_frame():
    for path in require_transcripts():
        for line in load(path.name):
            if line.dir != "send":
                continue
            (cmd,) = codec.CommandParser().feed(line.frame.encode())
            assert isinstance(cmd, codec.Command)
            assert cmd.line == line.frame.split("\n", 1)[0].strip()


def test_command_parser_headers_body_and_chunks():
    raw = b"sendmsg abc\ncall-command: execute\nexecute-app-name: playback\nContent-Length: 3\n\nxyzapi status\n\n"
    parser = codec.CommandParser()
    got = [c for i in range(len(raw)) for c in parser.feed(raw[i : i + 1])]
    assert [(c.line, c.headers.get("call-command"), c.body) for c in got] == [
        ("sendmsg abc", "execute", "xyz"),
        ("api status", None, ""),
    ]


def test_limits_accept_exactly_the_limit_and_refuse_one_more():
    limits = codec.Limits(header_bytes=1024, headers=16, body_bytes=1024)
    block = b"X: " + b"a" * (1024 - 3)
    assert isinstance(codec.FrameParser(limits).feed(block + b"\n\n")[0], codec.Frame)
    assert codec.FrameParser(limits).feed(block + b"a\n\n")[0].too_large  # type: ignore[union-attr]
    headers = b"".join(b"H%d: v\n" % i for i in range(16))
    assert isinstance(codec.FrameParser(limits).feed(headers + b"\n")[0], codec.Frame)
    assert codec.FrameParser(limits).feed(b"H: v\n" + headers + b"\n")[0].too_large  # type: ignore[union-attr]
    body = b"Content-Type: api/response\nContent-Length: %d\n\n"
    assert codec.FrameParser(limits).feed(body % 1024 + b"x" * 1024)[0].body == "x" * 1024  # type: ignore[union-attr]
    assert codec.FrameParser(limits).feed(body % 1025)[0].too_large  # type: ignore[union-attr]


@pytest.mark.parametrize("value", ["-1", "+5", "1e3", "0x10", "5 5", "١٢", "9" * 40])
def test_content_length_must_be_plain_ascii_digits(value):
    (out, after) = codec.FrameParser().feed(f"Content-Length: {value}\n\nContent-Type: auth/request\n\n".encode())
    assert isinstance(out, codec.MalformedFrame) and "Content-Length" in out.reason
    assert isinstance(after, codec.Frame) and after.content_type == "auth/request"


def test_two_different_content_lengths_are_refused():
    (out,) = codec.FrameParser().feed(b"Content-Length: 2\nContent-Length: 7\n\nab")
    assert isinstance(out, codec.MalformedFrame) and "conflicting" in out.reason


def test_command_parser_reads_crlf_split_between_pieces():
    parser = codec.CommandParser()
    assert parser.feed(b"api status\r") == []
    assert parser.feed(b"\n\r") == []
    assert [c.line for c in parser.feed(b"\n")] == ["api status"]  # type: ignore[union-attr]


def test_recorded_plain_events_are_decoded_lazily_and_read_as_a_line_by_line_parse():
    events = 0
    for path in require_transcripts():
        for raw in _recv_frames(path.name):
            (frame,) = codec.FrameParser().feed(raw)
            if not isinstance(frame, codec.Frame) or frame.content_type != "text/event-plain":
                continue
            event = codec.parse_event(frame)
            pairs, body = reference_event(frame.body)
            if "Content-Length" not in frame.body.partition("\n\n")[0]:
                assert event._values is not None, "a FreeSWITCH event was not decoded lazily"
                events += 1
            lookup = dict(pairs)
            names = [*lookup, "No-Such-Header", "", "Event-Name:", "Unique-ID\nX", "a b"]
            assert {k: event.get(k, "?") for k in names} == {k: lookup.get(k, "?") for k in names}
            assert event.name == lookup["Event-Name"] and event.uuid == lookup.get("Unique-ID", "")
            assert event.pairs == tuple(pairs) and event.body == body
            assert event.headers == lookup
    assert events >= 100


@pytest.mark.parametrize(
    ("body", "want"),
    [
        (b"Event-Name: A\nX:y\n\n", {"X": "y"}),  # no space after the colon
        (b"Event-Name: A\nX:y z\n\n", {"X": "y z"}),
        (b"Event-Name: A\nX: y: z\n\n", {"X": "y: z"}),
        (b"Event-Name: A\nX:y: z\n\n", {"X:y": "z", "X": "?"}),
        (b"Event-Name: A\nX: y z\n\n", {"X": "y z"}),
        (b"\nEvent-Name: A\nX: %41%3A\n\n", {"X": "A:"}),
        (b"Event-Name: A\nX: 1\nX: 2\n\n", {"X": "2"}),
        (b"Event-Name: A\nContent-Length: 3\n\nxyz", {"Content-Length": "?"}),
        (b"Event-Name: A\nX: \xff\n\n", {"X": "\ufffd"}),
    ],
)
def test_irregular_event_blocks_read_as_the_wire_rules_say(body, want):
    event = codec.parse_event(_plain_event_frame(body))
    assert event.name == "A"
    assert {k: event.get(k, "?") for k in want} == want


@pytest.mark.parametrize(
    "body",
    [
        b"Event-Name: A\n: nameless\n\n",
        b": nameless\nEvent-Name: A\n\n",
        b"Event-Name: A\nno colon here\n\n",
        b"Event-Name: A\nX Y: z\n\n",
        b"Event-Name: A\nContent-Length: x\n\n",
        b"Event-Name: A\nContent-Length: 1\nContent-Length: 2\n\nab",
    ],
)
def test_bad_event_blocks_are_refused_whole(body):
    with pytest.raises(codec.ESLProtocolError):
        codec.parse_event(_plain_event_frame(body))


def test_event_block_limits_hold_for_lazily_decoded_events():
    block = b"".join(b"H%d: v\n" % i for i in range(16)) + b"\n"
    assert codec.parse_event(_plain_event_frame(block), codec.Limits(headers=16)).get("H15") == "v"
    with pytest.raises(codec.FrameTooLarge):
        codec.parse_event(_plain_event_frame(block), codec.Limits(headers=15))
    assert codec.parse_event(_plain_event_frame(block), codec.Limits(header_bytes=len(block) - 2)).get("H0") == "v"
    with pytest.raises(codec.FrameTooLarge):
        codec.parse_event(_plain_event_frame(block), codec.Limits(header_bytes=len(block) - 3))


def test_a_channels_data_reply_is_decoded_a_header_at_a_time_and_reads_as_the_full_parse() -> None:
    """connect's reply carries ~240 headers on a real switch: kept as its block, each value decoded when read."""
    pairs = [("Content-Type", "command/reply"), ("Reply-Text", "+OK"), ("Unique-ID", "u-1")]
    pairs += [(f"variable_v{n}", f"value {n}: 100%") for n in range(120)]
    wire = "".join(
        f"{name}: {quote(value, safe='') if name.startswith('variable_') else value}\n" for name, value in pairs
    )
    [frame] = codec.FrameParser().feed(wire.encode() + b"\n")
    assert frame._pairs is None  # not decoded yet
    assert frame.get("variable_v7") == "value 7: 100%" and frame.get("Unique-ID") == "u-1" and frame.ok
    assert frame.get("variable_nope", "-") == "-"
    assert frame.pairs == tuple(pairs)
    irregular = wire.replace("variable_v3: ", "variable_v3:", 1)  # not regular: parsed at once, as before
    [eager] = codec.FrameParser().feed(irregular.encode() + b"\n")
    assert eager._pairs is not None and eager.get("variable_v3") == "value 3: 100%"

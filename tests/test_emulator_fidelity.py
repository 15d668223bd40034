"""The emulator against the real FreeSWITCH transcripts: same frames, replies, event order and header names."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import gevent
import gevent.event
import gevent.queue
import gevent.server
import gevent.socket
import pytest

from engine.emulator import Emulator
from engine.esl import codec
from tests.esl_transcripts import load

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
NUMBER = re.compile(r"\d+")


class Client:
    """A raw ESL client over a gevent socket, built on the codec only."""

    def __init__(self, sock: gevent.socket.socket) -> None:
        self.sock = sock
        self.parser = codec.FrameParser()
        self.pending: list[codec.Frame] = []

    @classmethod
    def connect(cls, port: int) -> Client:
        return cls(gevent.socket.create_connection(("127.0.0.1", port)))

    def send(self, data: bytes | str) -> None:
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def read(self, timeout: float = 5.0) -> codec.Frame:
        with gevent.Timeout(timeout, TimeoutError("no frame")):
            while not self.pending:
                data = self.sock.recv(65536)
                if not data:
                    raise EOFError("connection closed")
                self.pending.extend(f for f in self.parser.feed(data) if isinstance(f, codec.Frame))
        return self.pending.pop(0)

    def read_until(self, stop: Callable[[codec.Frame], bool], timeout: float = 5.0) -> list[codec.Frame]:
        frames = [self.read(timeout)]
        while not stop(frames[-1]):
            frames.append(self.read(timeout))
        return frames

    def command(self, data: bytes | str) -> codec.Frame:
        """Send and return the reply (command/reply or api/response), skipping events."""
        self.send(data)
        return next(f for f in iter(self.read, None) if not f.content_type.startswith("text/event"))

    def login(self, password: str = "ClueCon") -> None:
        assert self.read().content_type == "auth/request"
        assert self.command(codec.auth(password)).reply_text == "+OK accepted"

    def closed(self, timeout: float = 5.0) -> bool:
        with gevent.Timeout(timeout, TimeoutError("still open")):
            return self.sock.recv(65536) == b""

    def close(self) -> None:
        self.sock.close()


def shape(text: str) -> str:
    """A reply or body with uuids and numbers blanked out (and plural units, which follow the numbers)."""
    text = re.sub(r"(\d+ [a-z]+?)s\b", r"\1", text)
    return NUMBER.sub("N", UUID.sub("<uuid>", text))


def frame_shape(frame: codec.Frame) -> tuple[str, str]:
    if frame.content_type.startswith("text/event"):
        return frame.content_type, codec.parse_event(frame).name
    if frame.content_type == "command/reply" and "Event-Name" in frame.headers:
        return frame.content_type, "CHANNEL_DATA"
    text = frame.reply_text if frame.content_type == "command/reply" else frame.body
    return frame.content_type, shape(text)


def recorded(name: str) -> list[codec.Frame]:
    return [codec.FrameParser().feed(line.frame.encode())[0] for line in load(name) if line.dir == "recv"]  # type: ignore[misc]


def sent(name: str) -> list[str]:
    return [line.frame for line in load(name) if line.dir == "send"]


def header_names(event: codec.Event) -> list[str]:
    return [k for k, _ in event.pairs if not k.startswith(("variable_", "Other-Leg-", "Caller-Transfer-Source"))]


@pytest.fixture
def emu() -> Iterator[Emulator]:
    emulator = Emulator(time_scale=0.01)
    emulator.start()
    yield emulator
    emulator.stop()


def replay_simple(emu: Emulator, name: str) -> tuple[list[codec.Frame], Client]:
    """Send every recorded command, read as many frames as FreeSWITCH sent."""
    client = Client.connect(emu.port)
    want = recorded(name)
    got = [client.read()]
    for data in sent(name):
        client.send(data)
        while len(got) < len(want) and (
            len(got) < 2
            or frame_shape(got[-1]) != frame_shape(want[len(got) - 1])
            or want[len(got)].content_type != "command/reply"
        ):
            got.append(client.read())
            if got[-1].content_type in ("command/reply", "api/response") and len(got) >= len(want):
                break
            if got[-1].content_type in ("command/reply", "api/response"):
                break
    while len(got) < len(want):
        got.append(client.read())
    return got, client


@pytest.mark.parametrize("name", ["01_auth_ok.jsonl", "02_auth_bad_password.jsonl"])
def test_auth_replies_and_disconnect_notice_are_byte_true(emu: Emulator, name: str) -> None:
    client = Client.connect(emu.port)
    got = [client.read()]
    for data in sent(name):
        client.send(data)
    want = recorded(name)
    while len(got) < len(want):
        got.append(client.read())
    assert [codec.frame(f.pairs, f.body) for f in got] == [codec.frame(f.pairs, f.body) for f in want]
    assert client.closed()


def test_api_commands_have_the_recorded_replies(emu: Emulator) -> None:
    client = Client.connect(emu.port)
    client.read()
    got: list[codec.Frame] = [codec.Frame.of({"Content-Type": "auth/request"})]
    for data in sent("03_api_commands.jsonl"):
        client.send(data)
        got.append(client.read())
    got.append(client.read())  # the disconnect notice after +OK bye
    want = recorded("03_api_commands.jsonl")
    assert [frame_shape(f) for f in got] == [frame_shape(f) for f in want]
    by_cmd = dict(zip([s.split("\n")[0] for s in sent("03_api_commands.jsonl")], got[1:], strict=False))
    exact = [
        "api version",
        "api show channels as json",
        "api nosuchcommand",
        "api sofia status",
        "api originate",
        "api uuid_kill 00000000-0000-0000-0000-000000000000",
    ]
    want_by_cmd = dict(zip([s.split("\n")[0] for s in sent("03_api_commands.jsonl")], want[1:], strict=False))
    for cmd in exact:
        assert by_cmd[cmd].body == want_by_cmd[cmd].body, cmd
    bg = by_cmd["bgapi status"]
    assert bg.reply_text == f"+OK Job-UUID: {bg.headers['Job-UUID']}"
    assert [k for k, _ in bg.pairs] == [k for k, _ in want_by_cmd["bgapi status"].pairs]


def _leg(event: codec.Event) -> str:
    return event.get("Channel-Name")[-2:] if event.get("Channel-Name") else "job"


@pytest.mark.parametrize("fmt", ["plain", "json"])
def test_originate_loopback_events_match_freeswitch(emu: Emulator, fmt: str) -> None:
    name = f"04_events_{fmt}_originate_loopback.jsonl"
    want = [codec.parse_event(f) for f in recorded(name) if f.content_type.startswith("text/event")]
    client = Client.connect(emu.port)
    client.login()
    subscribe, originate = sent(name)[1:3]
    assert client.command(subscribe).reply_text == f"+OK event listener enabled {fmt}"
    reply = client.command(originate)
    assert shape(reply.reply_text) == "+OK Job-UUID: <uuid>"
    frames = client.read_until(
        lambda f: (
            f.content_type.startswith("text/event")
            and sum(
                1
                for e in [codec.parse_event(f)]
                if e.name == "CHANNEL_STATE" and e.get("Channel-State") == "CS_DESTROY"
            )
            > 0
            and codec.parse_event(f).get("Channel-Name").endswith("-b")
        )
    )
    got = [codec.parse_event(f) for f in frames]
    assert {f.content_type for f in frames} == {f"text/event-{fmt}"}
    for leg in ("-a", "-b", "job"):
        steps = [
            (
                e.name,
                e.get("Channel-State"),
                e.get("Channel-Call-State"),
                e.get("Channel-State-Number"),
                e.get("Application"),
            )
            for e in got
            if _leg(e) == leg
        ]
        expected = [
            (
                e.name,
                e.get("Channel-State"),
                e.get("Channel-Call-State"),
                e.get("Channel-State-Number"),
                e.get("Application"),
            )
            for e in want
            if _leg(e) == leg
        ]
        assert steps == expected, leg
        mine = [e for e in got if _leg(e) == leg]
        theirs = [e for e in want if _leg(e) == leg]
        for e, w in zip(mine, theirs, strict=True):
            assert header_names(e) == header_names(w), (leg, e.name)
            has_vars = any(k.startswith("variable_") for k, _ in e.pairs)
            assert has_vars == any(k.startswith("variable_") for k, _ in w.pairs), (leg, e.name)
    job = next(e for e in got if e.name == "BACKGROUND_JOB")
    a_uuid = next(e.uuid for e in got if e.get("Channel-Name").endswith("-a"))
    assert job.body == f"+OK {a_uuid}\n"
    assert job.get("Job-UUID") == reply.headers["Job-UUID"]
    hangup_complete = next(e for e in got if e.name == "CHANNEL_HANGUP_COMPLETE")
    assert [k for k, _ in hangup_complete.pairs].count("Hangup-Cause") == 2
    assert client.command("api show channels as json\n\n").body == '{"row_count": 0}\n'
    assert (
        client.command("api hupall NORMAL_CLEARING\n\n").body == "+OK hangup all channels with cause NORMAL_CLEARING\n"
    )


class OutboundListener:
    """hotline's side of the outbound socket: accepts the sessions the emulator opens."""

    def __init__(self) -> None:
        self.sessions: gevent.queue.Queue[Client] = gevent.queue.Queue()
        self.server = gevent.server.StreamServer(("127.0.0.1", 0), self._accept)
        self.server.start()
        self.port = self.server.server_port

    def _accept(self, sock: gevent.socket.socket, _addr: object) -> None:
        done = gevent.event.Event()
        client = Client(sock)
        client.done = done  # type: ignore[attr-defined]
        self.sessions.put(client)
        done.wait()

    def next(self, timeout: float = 5.0) -> Client:
        return self.sessions.get(timeout=timeout)

    def stop(self) -> None:
        self.server.stop(timeout=0)


@pytest.fixture
def hotline() -> Iterator[OutboundListener]:
    listener = OutboundListener()
    yield listener
    listener.stop()


def steps(name: str, skip: str = "\0") -> list[tuple[str, int]]:
    """Each command the client sent, with how many frames FreeSWITCH sent before the next command.

    Frames containing ``skip`` (leftovers of an earlier recording) are not counted.
    """
    out: list[tuple[str, int]] = []
    for line in load(name):
        if line.dir == "send":
            out.append((line.frame, 0))
        elif out and skip not in line.frame:
            out[-1] = (out[-1][0], out[-1][1] + 1)
    return out


def session_shapes(frames: list[codec.Frame]) -> list[tuple[str, str]]:
    return [frame_shape(f) for f in frames]


def test_outbound_socket_session_matches_freeswitch(hotline: OutboundListener, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # 0.1: play_and_get_digits waits 4 s (0.4 s here) for the DTMF this test sends from another socket
    emu = Emulator(time_scale=0.1, dialplan={"8888": f"socket 127.0.0.1:{hotline.port} async full"})
    emu.start()
    try:
        control = Client.connect(emu.port)
        control.login()
        control.command("bgapi originate {origination_caller_id_number=13900139000}loopback/8888 &park()\n\n")
        session = hotline.next()
        rec_path = str(tmp_path / "rec.wav")
        want = recorded("06_outbound_socket_session.jsonl")
        got: list[codec.Frame] = []
        for data, count in steps("06_outbound_socket_session.jsonl"):
            data = data.replace("/tmp/hotline_rec_test.wav", rec_path)
            if data.startswith("api uuid_getvar"):
                data = UUID.sub(got[0].headers["Unique-ID"], data)
            session.send(data)
            if "play_and_get_digits" in data:
                got += [session.read(), session.read()]  # +OK, CHANNEL_EXECUTE
                a_uuid = got[0].headers["variable_other_loopback_leg_uuid"]
                assert control.command(f"api uuid_send_dtmf {a_uuid} 42#\n\n").body == f"+OK {a_uuid} sent DTMF 42#.\n"
                count -= 2
            got += [session.read() for _ in range(count)]
        assert session_shapes(got) == session_shapes(want)
        events = [
            (codec.parse_event(f), codec.parse_event(w))
            for f, w in zip(got, want, strict=True)
            if f.content_type == "text/event-plain"
        ]
        for mine, theirs in events:
            assert header_names(mine) == header_names(theirs), mine.name
            for key in (
                "Application",
                "Application-Data",
                "Application-Response",
                "DTMF-Digit",
                "Hangup-Cause",
                "Channel-State",
                "Channel-Call-State",
                "Answer-State",
            ):
                if key == "Application-Data" and ("hotline_rec_test" in theirs.get(key) or "8084" in theirs.get(key)):
                    continue
                assert mine.get(key) == theirs.get(key), (mine.name, key)
        completes = {e.get("Application-UUID") for e, _ in events if e.name == "CHANNEL_EXECUTE_COMPLETE"}
        assert {"11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"} <= completes
        pagd = next(
            e
            for e, _ in events
            if e.name == "CHANNEL_EXECUTE_COMPLETE" and e.get("Application") == "play_and_get_digits"
        )
        assert pagd.variable("menu_choice") == "42"
        notice = next(f for f in got if f.content_type == "text/disconnect-notice")
        assert [k for k, _ in notice.pairs] == [k for k, _ in want[got.index(notice)].pairs]
        import wave

        with wave.open(rec_path) as wav:
            assert wav.getframerate() == 8000
    finally:
        emu.stop()


def _by_channel(events: list[codec.Event]) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for e in events:
        out.setdefault(e.get("Channel-Name") or "job", []).append((e.name, e.get("Hangup-Cause")))
    return out


def test_outbound_bridge_matches_freeswitch(hotline: OutboundListener) -> None:
    emu = Emulator(time_scale=0.01, dialplan={"8888": f"socket 127.0.0.1:{hotline.port} async full"})
    emu.start()
    try:
        control = Client.connect(emu.port)
        control.login()
        control_cmds = sent("07_outbound_bridge_control.jsonl")
        assert control.command(control_cmds[1]).reply_text == "+OK event listener enabled plain"
        control.send(control_cmds[2])
        session = hotline.next()
        got: list[codec.Frame] = []
        for data, count in steps("07_outbound_bridge.jsonl"):
            session.send(data)
            got += [session.read() for _ in range(count)]
        want = recorded("07_outbound_bridge.jsonl")
        assert session_shapes(got) == session_shapes(want)
        for mine, theirs in zip(got, want, strict=True):
            if mine.content_type == "text/event-plain":
                e, w = codec.parse_event(mine), codec.parse_event(theirs)
                assert header_names(e) == header_names(w), e.name
                other = [k for k, _ in e.pairs if k.startswith("Other-")]
                assert other == [k for k, _ in w.pairs if k.startswith("Other-")], e.name
        bridge = codec.parse_event(next(f for f in got if b"CHANNEL_BRIDGE" in f.body.encode()))
        assert bridge.get("Bridge-A-Unique-ID") == bridge.uuid
        emu.wait_for(lambda e: e.name == "CHANNEL_HANGUP_COMPLETE" and e.get("Channel-Name") == "loopback/9999-a")
        frames = control.read_until(
            lambda f: (
                f.content_type == "text/event-plain"
                and codec.parse_event(f).name == "CHANNEL_HANGUP_COMPLETE"
                and "9999-a" in f.body
            )
        )
        control_want = [
            codec.parse_event(f)
            for f in recorded("07_outbound_bridge_control.jsonl")
            if f.content_type == "text/event-plain"
        ]
        mine_events = [codec.parse_event(f) for f in frames if f.content_type == "text/event-plain"]
        assert _by_channel(mine_events) == _by_channel(control_want)
    finally:
        emu.stop()


def test_inbound_control_of_parked_calls_matches_freeswitch(emu: Emulator, tmp_path) -> None:  # type: ignore[no-untyped-def]
    name = "08_inbound_control_of_parked_calls.jsonl"
    path = str(tmp_path / "uuid_record.wav")
    client = Client.connect(emu.port)
    client.read()
    got: list[codec.Frame] = []
    for data, count in steps(name, skip="loopback/8888"):
        client.send(data.replace("/tmp/hotline_uuid_record.wav", path))
        got += [client.read() for _ in range(count)]
    assert not emu.channels
    want = [f for f in recorded(name)[1:] if "loopback/8888" not in f.body]
    replies = [frame_shape(f) for f in got if not f.content_type.startswith("text/event")]
    assert replies == [frame_shape(f) for f in want if not f.content_type.startswith("text/event")]
    getvar = next(f for f in got if f.content_type == "api/response" and f.body == "1001")
    assert getvar.headers["Content-Length"] == "4"
    mine = [codec.parse_event(f) for f in got if f.content_type == "text/event-plain"]
    theirs = [codec.parse_event(f) for f in want if f.content_type == "text/event-plain"]
    by_uuid_mine = _by_channel(mine)
    by_uuid_theirs = _by_channel(theirs)
    assert sorted(by_uuid_mine) == sorted(by_uuid_theirs)
    for key, seq in by_uuid_theirs.items():
        assert sorted(by_uuid_mine[key]) == sorted(seq), key
    for key in by_uuid_theirs:
        pairs = zip(
            [e for e in mine if e.get("Channel-Name") == key and e.name != "CHANNEL_HANGUP_COMPLETE"],
            [e for e in theirs if e.get("Channel-Name") == key and e.name != "CHANNEL_HANGUP_COMPLETE"],
            strict=False,
        )
        for e, w in pairs:
            if e.name == w.name:
                assert header_names(e) == header_names(w), (key, e.name)
    import wave

    with wave.open(path) as wav:
        assert wav.getnframes() > 0

"""The outbound-socket server over real sockets: who may connect, the handshake, malformed frames mid-call."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import gevent
import pytest
from gevent import socket
from gevent.event import Event
from gevent.queue import Queue

from engine.esl import codec
from engine.metrics import Metrics
from engine.transport import ChannelGone, ConnectionLost, OutboundCall, OutboundServer
from engine.transport.outbound import SESSION_EVENTS
from tests.acd_rig import wait_until
from tests.esl_transcripts import load


class FakeSwitch:
    """FreeSWITCH's side of an outbound socket: it connects to hotline and answers its commands."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self._buf = b""

    def command(self, timeout: float = 5) -> str:
        """The next command hotline sent ('' once hotline has closed the socket)."""
        with gevent.Timeout(timeout):
            while b"\n\n" not in self._buf:
                try:
                    data = self.sock.recv(65536)
                except ConnectionResetError:
                    data = b""
                if not data:
                    return ""
                self._buf += data
        raw, self._buf = self._buf.split(b"\n\n", 1)
        return raw.decode()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def handshake(self) -> None:
        """connect and linger answered with what a real FreeSWITCH sent (transcript 06); the filter on the
        channel's Unique-ID and the event subscription between them as FreeSWITCH 1.11.1 answers them."""
        recorded = [line.frame.encode() for line in load("06_outbound_socket_session.jsonl") if line.dir == "recv"]
        assert self.command() == "connect"
        self.send(recorded[0])
        uuid = codec.FrameParser().feed(recorded[0])[0].get("Unique-ID")
        assert self.command() == f"filter Unique-ID {uuid}"
        self.send(codec.reply(f"+OK filter added. [Unique-ID]=[{uuid}]"))
        assert self.command() == "event plain " + " ".join(SESSION_EVENTS)
        self.send(codec.reply("+OK event listener enabled plain"))
        assert self.command() == "linger"
        self.send(recorded[2])


@pytest.fixture
def server() -> Iterator[Callable[..., tuple[OutboundServer, Metrics, Queue]]]:
    servers: list[OutboundServer] = []

    def _start(
        handler: Callable[[OutboundCall], None] | None = None, **kwargs
    ) -> tuple[OutboundServer, Metrics, Queue]:
        metrics, calls = Metrics(), Queue()

        def run(call: OutboundCall) -> None:
            calls.put(call)
            if handler:
                handler(call)

        srv = OutboundServer("127.0.0.1", 0, run, metrics=metrics, **kwargs)
        srv.port = srv.start()  # type: ignore[attr-defined]
        servers.append(srv)
        return srv, metrics, calls

    yield _start
    for srv in servers:
        srv.stop()


def test_a_peer_outside_the_allowed_networks_is_closed_before_a_byte(server):
    srv, metrics, calls = server(peers=["192.0.2.0/24", "2001:db8::/32"])
    peer = FakeSwitch(srv.port)
    assert peer.command() == ""  # not even `connect`: closed at once
    assert metrics.value("hotline_outbound_refused_total", reason="address") == 1
    assert calls.empty()


def test_allowed_peers_are_networks_and_ipv4_mapped_addresses_count_as_ipv4(server):
    srv, _, _ = server(peers=["10.1.0.0/16", "::1"])
    assert srv.allowed("10.1.200.7") and srv.allowed("::ffff:10.1.0.1") and srv.allowed("::1")
    assert not srv.allowed("10.2.0.1") and not srv.allowed("127.0.0.1") and not srv.allowed("not an address")


def test_a_silent_peer_is_closed_after_the_handshake_timeout(server):
    srv, metrics, calls = server(handshake_timeout=0.2, timeout=60)
    peer = FakeSwitch(srv.port)
    assert peer.command() == "connect"
    assert peer.command(timeout=5) == "resume"  # hotline gave up waiting: FreeSWITCH, go on to the fallback
    assert peer.command(timeout=5) == ""  # and closed, no `exit` sent
    assert metrics.value("hotline_outbound_refused_total", reason="handshake") == 1
    assert calls.empty()


def test_a_switch_too_slow_to_answer_the_subscription_gets_the_call_back(server):
    """Under overload FreeSWITCH answered ``connect`` and then nothing in time: the call is handed back (its
    fallback runs) and counted as refused, as for a late ``connect``, never lost without a trace."""
    srv, metrics, calls = server(handshake_timeout=0.3, timeout=60)
    peer = FakeSwitch(srv.port)
    recorded = [line.frame.encode() for line in load("06_outbound_socket_session.jsonl") if line.dir == "recv"]
    assert peer.command() == "connect"
    peer.send(recorded[0])
    assert peer.command().startswith("filter Unique-ID ")  # then silence
    assert peer.command().startswith("event plain ") and peer.command() == "linger"
    assert peer.command(timeout=5) == "resume"
    assert peer.command() == ""  # closed
    assert metrics.value("hotline_outbound_refused_total", reason="handshake") == 1
    assert calls.empty()


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n",
        codec.reply("+OK"),  # a reply, but no channel's data
        codec.reply("-ERR no thanks", {"Unique-ID": "u"}),
    ],
    ids=["http", "no-channel-data", "error-reply"],
)
def test_a_peer_that_does_not_start_like_freeswitch_is_refused(server, reply):
    srv, metrics, calls = server(timeout=60, handshake_timeout=1)  # CRLF is no ESL blank line: HTTP times out
    peer = FakeSwitch(srv.port)
    assert peer.command() == "connect"
    peer.send(reply)
    assert peer.command() == "resume"
    assert peer.command() == ""
    assert metrics.value("hotline_outbound_refused_total", reason="handshake") == 1
    assert calls.empty()


def test_huge_content_length_on_the_outbound_port_is_not_read(server):
    srv, metrics, calls = server(timeout=60)
    peer = FakeSwitch(srv.port)
    assert peer.command() == "connect"
    sent, chunk = 0, b"x" * (1 << 20)
    with contextlib.suppress(OSError), gevent.Timeout(20):
        peer.send(b"Content-Type: command/reply\nContent-Length: 1073741824\n\n")
        while sent < 1 << 30:  # the finding: 1 GiB accepted in a second
            peer.send(chunk)
            sent += len(chunk)
    assert sent < 64 << 20  # socket buffers only
    assert metrics.value("hotline_esl_malformed_frames_total") == 1
    assert metrics.value("hotline_outbound_refused_total", reason="handshake") == 1
    assert calls.empty()


def test_malformed_frame_mid_call_closes_the_socket_without_hanging_up(server):
    """FreeSWITCH's dialplan goes on after `socket` (the fallback) only if hotline does not hang up."""
    ended: Queue = Queue()

    def handler(call: OutboundCall) -> None:
        try:
            call.execute("answer", timeout=60)
        except ConnectionLost as exc:
            ended.put(str(exc))

    srv, metrics, calls = server(handler, timeout=60)
    peer = FakeSwitch(srv.port)
    peer.handshake()
    assert peer.command().startswith("sendmsg\ncall-command: execute\nexecute-app-name: answer")
    peer.send(codec.reply("+OK") + b"Content-Type: text/event-json\nContent-Length: 7\n\n[1,2,3]")
    assert "malformed frame" in ended.get(timeout=5)
    call = calls.get(timeout=1)
    assert call.hungup.wait(5)  # the session's lost-socket path records the call once this is set
    rest = []
    while command := peer.command():
        rest.append(command)
    assert not any("hangup" in c for c in rest), rest
    assert metrics.value("hotline_esl_malformed_frames_total") == 1
    assert metrics.value("hotline_outbound_refused_total", reason="handshake") == 0


def test_a_call_receives_only_the_events_a_session_reads(server) -> None:
    """myevents less UNUSED_EVENTS: FreeSWITCH (here the emulator, whose nixevent is FreeSWITCH's) sends no
    CHANNEL_EXECUTE, CHANNEL_STATE, ... for the call, only what sessions read."""
    from engine.emulator import Caller, Emulator

    seen: list[str] = []
    hung_up = Event()

    def record(event: codec.Event) -> None:
        seen.append(event.name)
        if event.name == "CHANNEL_HANGUP":
            hung_up.set()

    def handler(call: OutboundCall) -> None:
        call.register_handle("*", record)
        call.execute("answer", timeout=5)
        call.execute("set", "hotline_test=1", timeout=5)
        call.hangup()
        hung_up.wait(5)

    srv, _metrics, calls = server(handler)
    emu = Emulator(time_scale=0.01, dialplan={"4000": f"socket 127.0.0.1:{srv.port} async full"})
    emu.start()
    try:
        uuid = emu.place_call(Caller("13800138000", script=[]), "4000")
        assert calls.get(timeout=10).uuid == uuid
        assert hung_up.wait(10), seen
        fired = {e.name for e in emu.events if e.uuid == uuid}
    finally:
        emu.stop()
    assert {"CHANNEL_EXECUTE", "CHANNEL_ANSWER", "CHANNEL_STATE"} <= fired  # the switch did fire them...
    assert seen.count("CHANNEL_EXECUTE_COMPLETE") >= 2, seen  # answer, set (and the socket app's own end)
    assert set(seen) == {"CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP", "DISCONNECT"}, seen  # ...not to the call


@pytest.mark.parametrize("gone", [True, False], ids=["channel-gone", "channel-alive"])
def test_a_call_closes_without_the_exit_round_trip_only_once_its_channel_is_gone(server, gone) -> None:
    """After the hangup and the lingering socket's disconnect notice, hotline just closes (FreeSWITCH ends
    the listener); a call whose channel is still up is left with `exit`, as before."""
    leave = Event()
    srv, _metrics, calls = server(lambda call: leave.wait(5), timeout=60)
    peer = FakeSwitch(srv.port)
    peer.handshake()
    call = calls.get(timeout=5)
    if gone:
        hangup = {"Event-Name": "CHANNEL_HANGUP", "Unique-ID": call.uuid, "Hangup-Cause": "NORMAL_CLEARING"}
        peer.send(codec.event_plain(hangup))
        peer.send(codec.disconnect_notice((("Content-Disposition", "linger"), ("Linger-Time", "-1"))))
        assert call.hungup.wait(5)
        wait_until(lambda: call.channel_gone)
    leave.set()
    assert peer.command() == ("" if gone else "exit")
    assert call.hangup_cause == ("NORMAL_CLEARING" if gone else "")


def test_a_released_call_is_driven_through_the_relay_and_its_channel_lives_on(server) -> None:
    """release_socket: FreeSWITCH's listener ends (hotline closes the socket) but the channel is untouched;
    applications, api commands and the hangup go out on the relay's connection (``sendmsg <uuid>``), the
    channel's events come back through it, each once, and closing the call stops following the channel."""
    from engine.campaigns.legs import Legs
    from engine.emulator import Caller, Emulator, Phone

    results: Queue = Queue()

    def handler(call: OutboundCall) -> None:
        seen: list[str] = []
        call.register_handle("*", lambda e: seen.append(e.get("Event-Sequence")))
        call.execute("answer", timeout=5)
        bridged = Event()
        call.register_handle("CHANNEL_BRIDGE", lambda _e: bridged.set())
        legs.client.bgapi("originate", "{origination_uuid=agent-leg}user/1001", "&park()")
        call.api("uuid_bridge", call.uuid, "agent-leg")
        assert bridged.wait(5)  # a socket is released while its caller talks: the bridge ended the socket app
        assert call.release_socket(legs, timeout=5)
        wait_until(lambda: all(getattr(c, "channel", None) is None for c in emu.switch.listeners), what="listener gone")
        done = call.execute("set", "hotline_test=relayed", timeout=5)  # sendmsg <uuid> on the dialler's connection
        call.api("uuid_setvar", call.uuid, "hotline_api", "relayed")
        channel = emu.channels[call.uuid]
        results.put((done.get("variable_hotline_test"), channel.alive, channel.variables.get("hotline_api")))
        call.hangup("USER_BUSY")
        assert call.hungup.wait(5)
        results.put((call.hangup_cause, len(seen) == len(set(seen))))

    srv, _metrics, calls = server(handler)
    emu = Emulator(password="pw", time_scale=0.01, dialplan={"4000": f"socket 127.0.0.1:{srv.port} async full"})
    emu.phones["1001"] = Phone("1001", answer_delay=0)
    emu.start()
    legs = Legs.connect("127.0.0.1", emu.port, "pw", metrics=Metrics(), timeout=5)
    legs.client.start(wait=5)
    try:
        uuid = emu.place_call(Caller("13800138000", script=[]), "4000")
        call = calls.get(timeout=10)
        assert results.get(timeout=10) == ("relayed", True, "relayed")
        assert results.get(timeout=10) == ("USER_BUSY", True)
        wait_until(lambda: not call.connected, what="the session's end closing the call")
        assert ("Unique-ID", uuid) not in legs.client.filters  # no longer followed
    finally:
        legs.client.stop()
        legs.orphans.stop_watching()
        emu.stop()


@pytest.mark.parametrize("complete", [True, False], ids=["hangup-complete-came", "nothing-came"])
def test_a_hangup_lost_with_the_released_socket_still_ends_the_call(complete: bool) -> None:
    """FreeSWITCH drops the events it had queued for a socket whose listener ends: a CHANNEL_HANGUP fired just
    before the relay's filter took effect is lost. The relay asks whether the channel still exists; it does not:
    the call ends, with the cause of its CHANNEL_HANGUP_COMPLETE when that comes through the relay."""
    from engine.campaigns.legs import Legs
    from tests.switch_peer import CALL, switch

    with switch() as fs:
        fs.on("api uuid_exists ", "false")
        legs = Legs(fs.client(events=("CHANNEL_HANGUP_COMPLETE",)))
        outbound, call = fs.call()
        assert outbound.release_socket(legs, timeout=2)
        wait_until(lambda: not call.side.open, what="hotline closing the socket")
        fs.wait_command("api uuid_exists " + CALL)
        if complete:
            fs.event("CHANNEL_HANGUP_COMPLETE", CALL, **{"Hangup-Cause": "USER_BUSY"})
        assert outbound.hungup.wait(5)
        if complete:  # its cause, also should the recheck's grace have run out first on a loaded machine
            wait_until(lambda: outbound.hangup_cause == "USER_BUSY", what="the cause of CHANNEL_HANGUP_COMPLETE")
        else:
            assert outbound.hangup_cause == ""
        with pytest.raises(ChannelGone):  # nothing can run on a gone channel
            outbound.execute("playback", "x.wav", timeout=1)
        outbound.close()
        assert ("Unique-ID", CALL) not in legs.client.filters

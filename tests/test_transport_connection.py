"""Transport: timeouts, id-matched completions, disconnects and malformed frames over real sockets."""

from __future__ import annotations

import time

import gevent
import pytest
from gevent import socket
from gevent.queue import Queue

from engine.esl import codec
from engine.metrics import Metrics
from engine.transport import ChannelGone, CommandFailed, CommandTimeout, Connection, ConnectionLost
from tests.acd_rig import wait_until
from tests.esl_transcripts import load
from tests.scripted_peer import PeerConnection, ScriptedPeer


@pytest.fixture
def connect():
    peers: list[ScriptedPeer] = []
    conns: list[Connection] = []

    def _connect(script, timeout: float = 2.0) -> tuple[Connection, Metrics]:
        peer = ScriptedPeer(script)
        peers.append(peer)
        port = peer.start()
        metrics = Metrics()
        conn = Connection(socket.create_connection(("127.0.0.1", port)), name="t", metrics=metrics, timeout=timeout)
        conn.start()
        conns.append(conn)
        return conn, metrics

    yield _connect
    for conn in conns:
        conn.close()
    for peer in peers:
        peer.stop()


def test_api_replies_match_commands_in_order_and_latency_is_measured(connect):
    def script(peer: PeerConnection) -> None:
        while cmd := peer.read_command():
            peer.send(codec.api_response(f"echo {cmd.split(' ', 1)[1]}\n"))

    conn, metrics = connect(script)
    assert conn.api("status") == "echo status\n"
    assert conn.api("version") == "echo version\n"
    assert metrics.value("hotline_esl_command_seconds_count", command="api status") == 1


def test_reply_wait_is_the_age_of_the_oldest_unanswered_command(connect):
    got, release = gevent.event.Event(), gevent.event.Event()

    def script(peer: PeerConnection) -> None:
        peer.read_command()
        peer.read_command()
        got.set()
        release.wait()
        peer.send(codec.api_response("first\n"))
        peer.send(codec.api_response("second\n"))

    conn, _ = connect(script)
    assert conn.reply_wait == 0.0
    first = gevent.spawn(conn.api, "first")
    got_first_at = time.perf_counter()
    second = gevent.spawn(conn.api, "second")
    assert got.wait(5)
    waited = conn.reply_wait
    assert 0.0 < waited <= time.perf_counter() - got_first_at + 0.5 and conn.pending == 2
    assert conn.reply_wait >= waited  # it keeps growing while the oldest waits
    release.set()
    assert first.get(timeout=5) == "first\n" and second.get(timeout=5) == "second\n"
    assert conn.reply_wait == 0.0 and conn.pending == 0


def test_api_error_raises_with_freeswitch_text(connect):
    recorded = next(line.frame for line in load("03_api_commands.jsonl") if "No such channel" in line.frame)

    def script(peer: PeerConnection) -> None:
        peer.read_command()
        peer.send(recorded.encode())

    conn, _ = connect(script)
    with pytest.raises(CommandFailed, match="No such channel"):
        conn.api("uuid_kill 00000000-0000-0000-0000-000000000000")


def test_command_timeout_and_late_reply_does_not_shift_later_replies(connect):
    release = gevent.event.Event()

    def script(peer: PeerConnection) -> None:
        peer.read_command()
        release.wait()
        peer.send(codec.api_response("late\n"))
        peer.read_command()
        peer.send(codec.api_response("second\n"))

    conn, metrics = connect(script)
    with pytest.raises(CommandTimeout, match="api slow"):
        conn.api("slow", timeout=0.05)
    assert metrics.value("hotline_esl_command_timeouts_total", command="api slow") == 1
    release.set()
    assert conn.api("next") == "second\n"


def test_bgapi_result_is_matched_by_job_uuid_not_by_order(connect):
    def script(peer: PeerConnection) -> None:
        jobs = []
        for _ in range(2):
            cmd = peer.read_command()
            job = cmd.split("Job-UUID: ")[1]
            jobs.append((cmd.split("\n")[0].split(" ", 2)[2], job))
            peer.send(codec.reply(f"+OK Job-UUID: {job}", {"Job-UUID": job}))
        for arg, job in reversed(jobs):  # results arrive in the opposite order
            headers = {"Event-Name": "BACKGROUND_JOB", "Job-UUID": job, "Job-Command": "originate"}
            peer.send(codec.event_plain(headers, f"+OK result-{arg}\n"))
        peer.read_command()

    conn, _ = connect(script)
    first = gevent.spawn(conn.bgapi, "originate a")
    second = gevent.spawn(conn.bgapi, "originate b")
    assert first.get(timeout=2) == "+OK result-a\n"
    assert second.get(timeout=2) == "+OK result-b\n"


def test_bgapi_error_result_raises(connect):
    def script(peer: PeerConnection) -> None:
        job = peer.read_command().split("Job-UUID: ")[1]
        peer.send(codec.reply(f"+OK Job-UUID: {job}", {"Job-UUID": job}))
        peer.send(codec.event_plain({"Event-Name": "BACKGROUND_JOB", "Job-UUID": job}, "-ERR NO_ANSWER\n"))
        peer.read_command()

    conn, _ = connect(script)
    with pytest.raises(CommandFailed, match="NO_ANSWER"):
        conn.bgapi("originate user/1001 &park()")


def test_execute_completion_matched_by_application_uuid(connect):
    """Two playbacks in flight: each completes on its own Application-UUID (greenswitch matches by name)."""

    def script(peer: PeerConnection) -> None:
        ids = []
        for _ in range(2):
            cmd = peer.read_command()
            ids.append(cmd.split("Event-UUID: ")[1])
            peer.send(codec.reply("+OK"))
        for n, app_uuid in enumerate(reversed(ids)):
            headers = {
                "Event-Name": "CHANNEL_EXECUTE_COMPLETE",
                "Application": "playback",
                "Application-Response": f"R{n}",
                "Application-UUID": app_uuid,
            }
            peer.send(codec.event_plain(headers))
        peer.read_command()

    conn, _ = connect(script)
    first = conn.execute_async("playback", "a.wav")
    second = conn.execute_async("playback", "b.wav")
    assert second.get(timeout=2).get("Application-Response") == "R0"
    assert first.get(timeout=2).get("Application-Response") == "R1"


def test_commands_sent_in_one_write_get_their_own_replies_in_order(connect):
    """send_frames: one write on the wire (the peer reads both commands from one recv), replies in order."""
    arrivals = Queue()

    def script(peer: PeerConnection) -> None:
        data = b""
        while data.count(b"\n\n") < 2:
            chunk = peer.sock.recv(65536)
            arrivals.put(chunk)
            data += chunk
        peer.send(codec.api_response("one\n") + codec.api_response("-ERR two\n"))
        peer.read_command()

    conn, metrics = connect(script)
    first, second = conn.send_frames([codec.api("one"), codec.api("two")])
    assert (first.body, second.body, second.ok) == ("one\n", "-ERR two\n", False)
    assert arrivals.get(timeout=2).count(b"\n\n") == 2
    assert metrics.value("hotline_esl_command_seconds_count", command="api two") == 1


def test_apis_runs_every_command_of_one_write_and_raises_the_first_error_once_all_replied(connect):
    """``apis``: the break and the bridge go out together; a ``-ERR`` among them raises once every reply came
    (none is left to be taken for a later command's)."""
    writes = Queue()

    def script(peer: PeerConnection) -> None:
        for replies in (("+OK\n", "+OK\n"), ("-ERR No such channel!\n", "-ERR No such channel!\n")):
            data = b""
            while data.count(b"\n\n") < 2:
                data += peer.sock.recv(65536)
            writes.put(data)
            peer.send(b"".join(codec.api_response(r) for r in replies))
        while cmd := peer.read_command():
            peer.send(codec.api_response(f"echo {cmd.split(' ', 1)[1]}\n"))

    conn, _ = connect(script)
    assert conn.apis(("uuid_break", "c-1", "all"), ("uuid_bridge", "c-1", "l-1")) == ["+OK\n", "+OK\n"]
    assert writes.get(timeout=2) == codec.api("uuid_break", "c-1", "all") + codec.api("uuid_bridge", "c-1", "l-1")
    with pytest.raises(CommandFailed, match="No such channel"):
        conn.apis(("uuid_break", "c-2", "all"), ("uuid_bridge", "c-2", "l-2"))
    assert conn.api("status") == "echo status\n"


def test_applications_queued_in_one_write_complete_each_on_its_own_uuid(connect):
    def script(peer: PeerConnection) -> None:
        ids = []
        for _ in range(2):
            ids.append(peer.read_command().split("Event-UUID: ")[1])
        peer.send(codec.reply("+OK") + codec.reply("+OK"))
        for app_uuid, response in zip(ids, ("set-done", "played"), strict=True):
            event = {
                "Event-Name": "CHANNEL_EXECUTE_COMPLETE",
                "Application-Response": response,
                "Application-UUID": app_uuid,
            }
            peer.send(codec.event_plain(event))
        peer.read_command()

    conn, _ = connect(script)
    done = conn.execute_all_async([("set", "a=b"), ("playback", "moh.wav")])
    assert [d.get(timeout=2).get("Application-Response") for d in done] == ["set-done", "played"]
    assert not conn._executions


def test_a_refused_application_of_several_raises_and_leaves_no_waiter(connect):
    def script(peer: PeerConnection) -> None:
        peer.read_command()
        peer.read_command()
        peer.send(codec.reply("+OK") + codec.reply("-ERR no such application"))
        peer.read_command()

    conn, _ = connect(script)
    with pytest.raises(CommandFailed, match="nope: -ERR no such application"):
        conn.execute_all_async([("set", "a=b"), ("nope", "")])
    assert len(conn._executions) == 1  # the set FreeSWITCH accepted still completes


def test_disconnect_fails_every_pending_command_at_once(connect):
    def script(peer: PeerConnection) -> None:
        peer.read_command()
        peer.send(codec.reply("+OK"))  # the execute is acknowledged, its completion never comes
        peer.read_command()  # the api command is read, never answered; then the peer goes away

    conn, _ = connect(script)
    execution = conn.execute_async("playback", "moh.wav")
    api = gevent.spawn(conn.api, "status", timeout=10)
    with pytest.raises(ConnectionLost):
        execution.get(timeout=5)
    with pytest.raises(ConnectionLost):
        api.get(timeout=5)
    with pytest.raises(ConnectionLost):
        conn.api("after")


def test_linger_disconnect_notice_fails_running_application(connect):
    recorded = load("06_outbound_socket_session.jsonl")
    notice = next(line.frame for line in recorded if "Content-Disposition: linger" in line.frame)

    def script(peer: PeerConnection) -> None:
        peer.read_command()
        peer.send(codec.reply("+OK"))
        peer.send(notice.encode())
        peer.read_command()

    conn, _ = connect(script)
    with pytest.raises(ChannelGone):
        conn.execute("playback", "long.wav", timeout=5)
    assert conn.lingering


def test_an_application_started_after_the_hangup_notice_fails_at_once_not_at_its_timeout(connect):
    """The caller hung up between two applications: the notice came before the next one was sent, so no
    CHANNEL_EXECUTE_COMPLETE will ever answer it (seen as a 10 s stall of a queued caller's session)."""
    recorded = load("06_outbound_socket_session.jsonl")
    notice = next(line.frame for line in recorded if "Content-Disposition: linger" in line.frame)
    sent = Queue()

    def script(peer: PeerConnection) -> None:
        peer.send(notice.encode())
        sent.put(peer.read_command())

    conn, _ = connect(script)
    wait_until(lambda: conn.channel_gone, what="the hangup notice read")
    with pytest.raises(ChannelGone):
        conn.execute("set", "playback_terminators=none", timeout=60)
    with pytest.raises(ChannelGone):
        conn.execute_async("playback", "local_stream://moh")
    conn.close()
    assert sent.get(timeout=5) in ("exit", "")  # neither application was sent


BAD_FRAMES = {
    "header line without a colon": b"garbage without a colon\n\n",
    "event body not JSON": codec.frame({"Content-Type": "text/event-json"}, "{not json"),
    "JSON event that is an array": codec.frame({"Content-Type": "text/event-json"}, '["Event-Name", "X"]'),
    "inner Content-Length not a number": codec.frame(
        {"Content-Type": "text/event-plain"}, "Event-Name: BACKGROUND_JOB\nContent-Length: 1e3\n\nbody"
    ),
    "JSON nested beyond the recursion limit": codec.frame({"Content-Type": "text/event-json"}, "[" * 100_000),
    "Content-Length of 10^12": b"Content-Type: api/response\nContent-Length: 1000000000000\n\n",
    "Content-Length with a sign": b"Content-Type: api/response\nContent-Length: +5\n\nhello",
    "conflicting Content-Lengths": b"Content-Type: api/response\nContent-Length: 5\nContent-Length: 9\n\nhello",
    "too many headers": b"".join(b"X-%d: v\n" % i for i in range(2000)) + b"\n",
}


@pytest.mark.parametrize("bad", BAD_FRAMES.values(), ids=BAD_FRAMES.keys())
def test_malformed_frame_closes_the_connection_and_fails_pending_commands_at_once(connect, bad):
    peer_saw_close: Queue = Queue()

    def script(peer: PeerConnection) -> None:
        peer.read_command()
        peer.send(codec.event_json({"Event-Name": "CHANNEL_CREATE", "Unique-ID": "before"}) + bad)
        peer_saw_close.put(peer.read_command())  # '' once hotline has closed its end

    conn, metrics = connect(script, timeout=60)  # a hang would be a timeout: fail long before it
    created: Queue = Queue()
    conn.register_handle("CHANNEL_CREATE", lambda e: created.put(e.uuid))
    with gevent.Timeout(5), pytest.raises(ConnectionLost, match="malformed frame"):
        conn.api("status")
    assert created.get(timeout=2) == "before"  # good frames ahead of the bad one are delivered
    assert not conn.connected
    assert peer_saw_close.get(timeout=5) == ""
    assert metrics.value("hotline_esl_malformed_frames_total") == 1
    with pytest.raises(ConnectionLost):
        conn.api("status")


def test_huge_content_length_is_not_buffered(connect):
    """The finding: 10^12 announced, then bytes pushed as fast as possible; hotline must stop reading."""
    pushed: Queue = Queue()

    def script(peer: PeerConnection) -> None:
        peer.read_command()
        sent, chunk = 0, b"x" * (1 << 20)
        try:
            peer.send(b"Content-Type: api/response\nContent-Length: 1000000000000\n\n")
            while sent < 256 << 20:
                peer.send(chunk)
                sent += len(chunk)
        except OSError:
            pass
        pushed.put(sent)

    conn, metrics = connect(script, timeout=60)
    with gevent.Timeout(10), pytest.raises(ConnectionLost, match="over the limit"):
        conn.api("status")
    assert pushed.get(timeout=20) < 64 << 20  # socket buffers only: the connection was closed, not fed
    assert metrics.value("hotline_esl_malformed_frames_total") == 1


def test_a_bug_in_dispatch_closes_the_connection_in_one_log_line(connect, caplog, monkeypatch):
    def script(peer: PeerConnection) -> None:
        peer.read_command()
        peer.send(codec.event_json({"Event-Name": "CHANNEL_CREATE", "Unique-ID": "u1"}))
        peer.read_command()

    conn, _ = connect(script, timeout=60)
    monkeypatch.setattr(conn, "_match", lambda event: 1 / 0)  # a bug of ours, met while reading
    with gevent.Timeout(5), pytest.raises(ConnectionLost, match="reader failed: ZeroDivisionError"):
        conn.api("status")
    assert not conn.connected
    failures = [r for r in caplog.records if "reader failed" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info is None


def test_events_reach_handlers_in_order_including_those_before_close(connect):
    names = [line.frame for line in load("07_outbound_bridge_control.jsonl") if line.dir == "recv"]
    events = [f for f in names if "text/event-plain" in f[:80]]

    def script(peer: PeerConnection) -> None:
        for frame in events:
            peer.send(frame.encode())

    seen: list[str] = []
    done = gevent.event.Event()
    conn, _ = connect(script)
    conn.register_handle("*", lambda e: seen.append(e.name))
    conn.register_handle("CONNECTION_CLOSED", lambda e: done.set())
    assert done.wait(5)
    expected = [codec.parse_event(codec.FrameParser().feed(f.encode())[0]).name for f in events]  # type: ignore[arg-type]
    assert seen[: len(expected)] == expected
    assert "CHANNEL_BRIDGE" in seen and seen[-1] == "CONNECTION_CLOSED"


def test_handlers_keep_up_with_a_flood_instead_of_the_stream_queueing_in_memory(connect):
    """Each read's events are handled before the next read, so a burst is never all held in the queue."""
    recorded = load("07_outbound_bridge_control.jsonl")
    frame = next(line.frame.encode() for line in recorded if "text/event-plain" in line.frame[:80])
    count = 3000

    def script(peer: PeerConnection) -> None:
        peer.read_command()
        peer.send(frame * count + codec.api_response("+OK\n"))  # 7.5 MB in one write, then the reply
        peer.read_command()

    conn, _ = connect(script, timeout=30)
    depths: list[int] = []
    conn.register_handle("*", lambda e: depths.append(conn._esl_event_queue.qsize()))
    with gevent.Timeout(30):
        assert conn.api("status") == "+OK\n"
        while len(depths) < count:
            gevent.sleep(0.01)
    assert len(depths) == count and max(depths) <= 1, f"up to {max(depths)} reads were queued unhandled"


def test_events_before_a_reply_reach_their_handlers_before_the_command_returns(connect):
    """Batching keeps the stream's order: an event read ahead of a reply is handled before the caller
    of that command resumes (e.g. a CHANNEL_CREATE ahead of an originate's reply)."""
    created = codec.event_plain({"Event-Name": "CHANNEL_CREATE", "Unique-ID": "u-1"})

    def script(peer: PeerConnection) -> None:
        peer.read_command()
        peer.send(created + codec.api_response("+OK u-1\n"))  # one write: one read
        peer.read_command()

    conn, _ = connect(script)
    seen: list[str] = []
    conn.register_handle("CHANNEL_CREATE", lambda e: seen.append(e.uuid))
    assert conn.api("originate", "loopback/1", "&park()") == "+OK u-1\n"
    assert seen == ["u-1"]

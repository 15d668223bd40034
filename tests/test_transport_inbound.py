"""The inbound control connection: authentication errors, subscription, reconnect after a restart."""

from __future__ import annotations

import contextlib

import gevent
import pytest
from gevent.queue import Queue

from engine.esl import codec
from engine.metrics import Metrics
from engine.transport import AuthenticationFailed, ConnectionLost, InboundClient
from tests.esl_transcripts import load
from tests.scripted_peer import PeerConnection, ScriptedPeer, auth_ok


def test_wrong_password_is_a_clear_error_naming_the_address_and_the_setting():
    recorded = [line.frame.encode() for line in load("02_auth_bad_password.jsonl") if line.dir == "recv"]

    def script(peer: PeerConnection) -> None:  # replays what a real FreeSWITCH sent
        peer.send(recorded[0])
        peer.read_command()
        peer.send(recorded[1] + recorded[2])

    server = ScriptedPeer(script)
    port = server.start()
    client = InboundClient("127.0.0.1", port, "wrong-password", ["CHANNEL_CREATE"], backoff=(0.01, 0.05))
    try:
        with pytest.raises(AuthenticationFailed, match=rf"127\.0\.0\.1:{port}.*freeswitch\.password"):
            client.start(wait=2)
    finally:
        client.stop()
        server.stop()


def test_unreachable_freeswitch_is_reported_after_the_wait():
    client = InboundClient("127.0.0.1", 1, "pw", ["ALL"], backoff=(0.01, 0.02))
    with pytest.raises(ConnectionLost, match=r"cannot reach FreeSWITCH event socket at 127\.0\.0\.1:1"):
        client.start(wait=0.3)
    client.stop()


def test_reconnects_after_freeswitch_restart_and_subscribes_again():
    subscriptions: Queue = Queue()

    def script(peer: PeerConnection) -> None:
        if not auth_ok(peer):
            return
        while cmd := peer.read_command():
            if cmd.startswith("event "):
                subscriptions.put(cmd)
                peer.send(codec.reply("+OK event listener enabled json"))
            elif cmd.startswith("api "):
                peer.send(codec.api_response("UP\n"))
                peer.send(codec.event_json({"Event-Name": "CHANNEL_CREATE", "Unique-ID": "u1"}))

    first = ScriptedPeer(script)
    port = first.start()
    metrics = Metrics()
    connects: Queue = Queue()
    closed: Queue = Queue()
    created: Queue = Queue()
    client = InboundClient(
        "127.0.0.1", port, "pw", ["CHANNEL_CREATE", "CHANNEL_HANGUP"], metrics=metrics, backoff=(0.01, 0.05)
    )
    client.on_connected(lambda: connects.put(True))
    client.on_event("CHANNEL_CREATE", lambda e: created.put(e.uuid))
    client.on_event("CONNECTION_CLOSED", lambda e: closed.put(client.connected))
    client.start(wait=2)
    assert subscriptions.get(timeout=2) == "event plain CHANNEL_CREATE CHANNEL_HANGUP"
    assert connects.get(timeout=2)
    assert metrics.value("hotline_esl_connected", connection="control") == 1

    first.stop()  # FreeSWITCH goes away...
    for conn in list(first.accepted.queue):
        conn.close()
    assert closed.get(timeout=2) is False
    assert metrics.value("hotline_esl_connected", connection="control") == 0

    second = ScriptedPeer(script)  # ...and comes back on the same port
    second._server.set_listener(("127.0.0.1", port))
    second.start()
    try:
        assert connects.get(timeout=5)
        assert subscriptions.get(timeout=2) == "event plain CHANNEL_CREATE CHANNEL_HANGUP"
        assert client.api("status") == "UP\n"
        assert created.get(timeout=2) == "u1"  # handlers were attached to the new connection
        assert metrics.value("hotline_esl_reconnects_total", connection="control") == 1
    finally:
        client.stop()
        second.stop()


@pytest.mark.parametrize(
    "bad",
    [b"not a header\n\n", b"Content-Type: api/response\nContent-Length: 1000000000000\n\n" + b"x" * 65536],
    ids=["garbage", "huge-content-length"],
)
@pytest.mark.parametrize("with_subscribe_reply", [False, True], ids=["later", "same-packet-as-subscribe-reply"])
def test_malformed_frame_closes_the_connection_and_the_client_reconnects(bad, with_subscribe_reply):
    connections: Queue = Queue()

    def script(peer: PeerConnection) -> None:
        number = connections.qsize() + 1
        connections.put(number)
        if not auth_ok(peer):
            return
        with contextlib.suppress(OSError):  # hotline may close with our bytes unread (a reset)
            serve(peer, number)

    def serve(peer: PeerConnection, number: int) -> None:
        while cmd := peer.read_command():
            if cmd.startswith("event "):
                spoil = number == 1 and with_subscribe_reply
                peer.send(codec.reply("+OK event listener enabled json") + (bad if spoil else b""))
            elif cmd == "api status" and number == 1:
                peer.send(bad)  # the command's reply never comes: a malformed frame instead
            elif cmd.startswith("api "):
                peer.send(codec.api_response(f"UP on connection {number}\n"))

    server = ScriptedPeer(script)
    port = server.start()
    metrics = Metrics()
    closed: Queue = Queue()
    client = InboundClient("127.0.0.1", port, "pw", ["ALL"], metrics=metrics, timeout=60, backoff=(0.01, 0.05))
    client.on_event(
        "CONNECTION_CLOSED", lambda e: closed.put(metrics.value("hotline_esl_connected", connection="control"))
    )
    reconnected: Queue = Queue()
    client.on_connected(lambda: reconnected.put(connections.qsize()))
    try:
        client.start(wait=5)
        if not with_subscribe_reply:
            with gevent.Timeout(5), pytest.raises(ConnectionLost, match="malformed frame"):
                client.api("status")  # fails at once, not after the 60 s command timeout
        assert closed.get(timeout=5) == 0  # the gauge dropped with the connection
        while reconnected.get(timeout=5) < 2:
            pass
        assert client.api("version") == "UP on connection 2\n"
        assert metrics.value("hotline_esl_connected", connection="control") == 1
        assert metrics.value("hotline_esl_malformed_frames_total") == 1
        # a connection garbled while subscribing never counted as up: its retry is not a reconnection
        reconnects = 0 if with_subscribe_reply else 1
        assert metrics.value("hotline_esl_reconnects_total", connection="control") == reconnects
    finally:
        client.stop()
        server.stop()

"""hotline against FreeSWITCH going away: restart, wrong password, a malformed frame on the wire."""

from __future__ import annotations

import pytest
from gevent.queue import Queue

from engine.config import load_config
from engine.emulator import Caller, Emulator, Phone
from engine.runtime.hotline import Hotline
from engine.transport import AuthenticationFailed
from tests.acd_rig import wait_until
from tests.hotline_rig import HOTLINE_NUMBER, seed, start_rig
from tests.test_integration_call_path import CALLER, _seed

pytestmark = [pytest.mark.integration, pytest.mark.db]


@pytest.fixture
def rig(tmp_path, db_url):
    seed(db_url, _seed)
    yield from start_rig(tmp_path, db_url, ["1001"])


def test_freeswitch_restart_reconnects_resubscribes_and_calls_flow_again(rig):
    rig.emulator.phones["1001"] = Phone("1001", answer_delay=0.5)
    rig.ready("1001")
    reconnected: Queue = Queue()
    rig.engine.control.on_connected(lambda: reconnected.put(True))

    rig.emulator.restart()  # every connection dropped, same port, new Core-UUID
    assert reconnected.get(timeout=5)
    assert rig.engine.metrics.value("hotline_esl_reconnects_total", connection="control") == 1

    uuid = rig.emulator.place_call(Caller(CALLER, script=["2"], talk_seconds=5), HOTLINE_NUMBER)
    trace = rig.next_call()
    assert (trace.uuid, trace.outcome, trace.agent_id) == (uuid, "answered", "1001")  # events flow again


def test_malformed_frame_from_freeswitch_is_counted_and_calls_go_on(rig):
    rig.emulator.phones["1001"] = Phone("1001", answer_delay=0.5)
    rig.ready("1001")
    connections = len(rig.emulator._server.connections) + len(rig.emulator.outbound.connections)
    assert connections == 2  # the engine's control and dialler connections; no call yet
    rig.emulator.send_raw(b"this is not an ESL header\n\n")  # one bad frame on each
    uuid = rig.emulator.place_call(Caller(CALLER, script=["2"], talk_seconds=5), HOTLINE_NUMBER)
    assert rig.next_call().uuid == uuid
    metrics = rig.engine.metrics
    wait_until(lambda: metrics.value("hotline_esl_malformed_frames_total") == connections, what="both counted")


def test_wrong_event_socket_password_stops_start_up_with_a_clear_error(tmp_path, db_url):
    seed(db_url, _seed)
    emulator = Emulator(password="the-real-one")
    port = emulator.start()
    config = load_config(
        None,
        {
            "data_dir": str(tmp_path),
            "database_url": db_url,
            "freeswitch": {"port": port, "password": "a-wrong-one"},
            "socket": {"port": 0},
            "http": {"port": 0},
        },
    )
    engine = Hotline(config)
    try:
        with pytest.raises(AuthenticationFailed, match=rf"127\.0\.0\.1:{port} refused the event-socket password"):
            engine.start(wait_for_freeswitch=5)
    finally:
        engine.stop()
        emulator.stop()

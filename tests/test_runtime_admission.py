"""Admission control: the rule (pure), and a call turned away through the outbound socket of an emulated
FreeSWITCH: the socket is closed before the handshake, the dialplan's fallback runs, the call is counted."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import gevent
import pytest
from gevent.event import Event
from gevent.queue import Queue

from engine.emulator import Caller, Emulator
from engine.metrics import Metrics
from engine.runtime.admission import Admission, Limits, Load, decide
from engine.runtime.loop_lag import LoopLag
from engine.transport import OutboundCall, OutboundServer
from tests.acd_rig import acd_rig, wait_until
from tests.hotline_rig import HOTLINE_NUMBER

LIMITS = Limits(max_loop_lag_seconds=0.5, max_pending_commands=50, max_calls_in_ivr=200, max_reply_wait_seconds=2.0)
CALM = Load(loop_lag_seconds=0.01, pending_commands=0, calls_in_ivr=3, reply_wait_seconds=0.0)


@pytest.mark.parametrize(
    ("load", "expected"),
    [
        (CALM, None),
        (Load(0.5, 50, 200, 2.0), None),  # at every limit: still taken (over it is behind)
        (Load(0.0, 3, 0, 2.1), "reply_wait"),  # FreeSWITCH answers late: few commands, one waiting long
        (Load(0.0, 51, 0, 9.0), "pending_commands"),
        (Load(0.51, 0, 0, 0.0), "loop_lag"),
        (Load(0.0, 51, 0, 0.0), "pending_commands"),
        (Load(0.0, 0, 201, 0.0), "calls_in_ivr"),
        (Load(2.0, 500, 900, 0.0), "loop_lag"),  # the first reason over its limit is the one counted
        (Load(0.0, 500, 900, 0.0), "pending_commands"),
    ],
)
def test_the_rule(load: Load, expected: str | None) -> None:
    assert decide(load, LIMITS) == expected


def test_turned_away_calls_are_counted_by_reason_and_logged_once_per_burst(caplog) -> None:
    lagging, busy, crowded = Load(0.9, 0, 0, 0.0), Load(0.0, 80, 0, 0.0), Load(0.0, 0, 250, 0.0)
    loads = [CALM, lagging, lagging, busy, CALM, crowded, CALM]
    metrics = Metrics()
    admission = Admission(lambda: loads.pop(0), LIMITS, metrics)
    with caplog.at_level(logging.WARNING, logger="engine.runtime.admission"):
        answers = [admission() for _ in range(7)]
    assert answers == [None, "loop_lag", "loop_lag", "pending_commands", None, "calls_in_ivr", None]
    assert metrics.value("hotline_calls_turned_away_total", reason="loop_lag") == 2
    assert metrics.value("hotline_calls_turned_away_total", reason="pending_commands") == 1
    assert metrics.value("hotline_calls_turned_away_total", reason="calls_in_ivr") == 1
    turning = [r.getMessage() for r in caplog.records if "turning new calls away" in r.getMessage()]
    again = [r.getMessage() for r in caplog.records if "taking calls again" in r.getMessage()]
    assert len(turning) == 2 and "loop lag 0.900 s" in turning[0]  # two bursts, one line each
    assert again == [f"admission: taking calls again after turning {n} away" for n in (3, 1)]


class Gate:
    """An admission whose load the test sets."""

    def __init__(self, metrics: Metrics) -> None:
        self.load = CALM
        self.admission = Admission(lambda: self.load, LIMITS, metrics)
        self.started = Event()

    def __call__(self) -> str | None:
        return self.admission()

    def start(self) -> None:
        self.started.set()

    def stop(self) -> None:
        self.started.clear()


@pytest.fixture
def rig() -> Iterator[tuple[Emulator, Gate, Metrics, Queue]]:
    metrics, taken = Metrics(), Queue()
    gate = Gate(metrics)

    def handler(call: OutboundCall) -> None:
        taken.put(call.uuid)
        call.hangup()

    server = OutboundServer("127.0.0.1", 0, handler, metrics=metrics, admit=gate)
    port = server.start()
    fallback = ["set hotline_fallback=true", "answer", "playback tone_stream://%(200,100,880)", "hangup"]
    emu = Emulator(time_scale=0.01, dialplan={"4000": [f"socket 127.0.0.1:{port} async full", *fallback]})
    emu.start()
    yield emu, gate, metrics, taken
    emu.stop()
    server.stop()
    assert not gate.started.is_set()  # the server stops its admission (and its lag monitor) with itself


def _commands(emu: Emulator) -> list[str]:
    return [command.line for command in emu.switch.commands]


def _fallback_ran(emu: Emulator, uuid: str) -> bool:
    return any(
        e.name == "CHANNEL_EXECUTE" and e.uuid == uuid and e.get("Application-Data") == "hotline_fallback=true"
        for e in emu.events
    )


def test_a_call_while_the_engine_is_behind_goes_to_the_fallback_untouched_and_is_counted(rig) -> None:
    emu, gate, metrics, taken = rig
    assert gate.started.is_set()
    gate.load = Load(loop_lag_seconds=1.5, pending_commands=0, calls_in_ivr=0, reply_wait_seconds=0.0)
    uuid = emu.place_call(Caller("13800138000", script=[]), "4000")
    emu.switch.wait_until(lambda: _fallback_ran(emu, uuid), timeout=10)
    assert taken.empty()  # the handler never ran
    assert "connect" not in _commands(emu)  # not even a `connect`
    assert metrics.value("hotline_calls_turned_away_total", reason="loop_lag") == 1
    assert metrics.value("hotline_outbound_refused_total", reason="handshake") == 0


def test_a_call_while_the_engine_keeps_up_is_taken(rig) -> None:
    emu, _gate, metrics, taken = rig
    uuid = emu.place_call(Caller("13800138000", script=[]), "4000")
    assert taken.get(timeout=10) == uuid
    assert "connect" in _commands(emu)
    emu.switch.wait_until(lambda: uuid not in emu.channels, timeout=10)
    assert not _fallback_ran(emu, uuid)  # hotline hung it up: the dialplan did not go on
    assert metrics.value("hotline_calls_turned_away_total", reason="loop_lag") == 0


def test_the_lag_monitor_sees_a_blocked_event_loop() -> None:
    lag = LoopLag(interval=0.01)
    seen: list[float] = []
    lag.listeners.append(seen.append)
    lag.start()
    try:
        with gevent.Timeout(5):
            while not seen:  # the monitor runs
                gevent.sleep(0.01)
        stuck_until = time.monotonic() + 0.3
        while time.monotonic() < stuck_until:  # the whole loop is stuck (time.sleep is gevent's here)
            pass
        with gevent.Timeout(5):
            while max(seen) < 0.25:
                gevent.sleep(0.01)
        assert lag.sustained < 0.25  # one stall is not a sustained lag
    finally:
        lag.stop()



def test_a_switch_that_answers_late_has_new_calls_turned_away_until_it_catches_up(tmp_path, db_url) -> None:
    """FreeSWITCH short of CPU answers commands late long before they pile up: the engine reads how long
    its oldest command has waited on the control connection and hands new calls to the
    dialplan's fallback meanwhile."""
    config = {"admission": {"max_reply_wait_seconds": 0.3}}
    with acd_rig(tmp_path, db_url, {}, {}, config=config) as rig:
        emu, control, metrics = rig.emulator, rig.engine.control, rig.engine.metrics
        fallback = [("set", "hotline_fallback=true"), ("answer", ""), ("hangup", "")]
        emu.dialplan[HOTLINE_NUMBER] = [*emu.dialplan[HOTLINE_NUMBER], *fallback]
        emu.switch.api_open.clear()  # the switch stops answering api commands
        held = gevent.spawn(control.api, "status")
        wait_until(lambda: control.reply_wait > 0.3, timeout=10, what="a reply awaited over 0.3 s")
        uuid = emu.place_call(Caller("13800138000", script=[]), HOTLINE_NUMBER)
        emu.switch.wait_until(lambda: _fallback_ran(emu, uuid), timeout=10)
        assert metrics.value("hotline_calls_turned_away_total", reason="reply_wait") == 1
        emu.switch.api_open.set()  # caught up: the reply comes, the next call is taken
        assert "UP" in held.get(timeout=10) and control.reply_wait == 0.0
        taken = emu.place_call(Caller("13800138001", script=[]), HOTLINE_NUMBER)
        wait_until(lambda: any(c.uuid == taken for c in rig.engine.outbound.active), what="the call taken")
        assert not _fallback_ran(emu, taken)
        assert metrics.value("hotline_calls_turned_away_total", reason="reply_wait") == 1

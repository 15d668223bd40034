"""Hold events from the control connection matched to bridged calls, timed by FreeSWITCH's clock."""

from __future__ import annotations

import time

import pytest

from engine.cti import Hub
from engine.esl.codec import Event
from engine.metrics import Metrics
from engine.runtime.hold_watch import HoldWatch


class FakeControl:
    """Only what HoldWatch uses of the control connection: event handlers."""

    def __init__(self) -> None:
        self.handlers: dict[str, list] = {}

    def on_event(self, name: str, handler) -> None:
        self.handlers.setdefault(name, []).append(handler)

    def fire(self, name: str, uuid: str, at: float | None, call: str = "") -> None:
        headers = [("Event-Name", name), ("Unique-ID", uuid)]
        headers += [("Event-Date-Timestamp", str(round(at * 1e6)))] if at is not None else []
        headers += [("variable_hotline_call", call)] if call else []
        for handler in self.handlers[name]:
            handler(Event.of(headers))


@pytest.fixture
def rig() -> tuple[FakeControl, Hub, Metrics, HoldWatch]:
    control, hub, metrics = FakeControl(), Hub(), Metrics()
    return control, hub, metrics, HoldWatch(control, hub, metrics)  # type: ignore[arg-type]


def test_caller_and_agent_leg_holds_of_a_bridged_call_are_timed_and_published(rig) -> None:
    control, hub, metrics, watch = rig
    feed = hub.subscribe("1001")
    t = time.time()
    control.fire("CHANNEL_HOLD", "call-1", t)  # not bridged yet: ignored
    watch.bridged("call-1", "1001", "sales")
    control.fire("CHANNEL_HOLD", "call-1", t + 10)
    control.fire("CHANNEL_UNHOLD", "call-1", t + 40)
    control.fire("CHANNEL_HOLD", "leg-1", t + 50, call="call-1")  # the agent's phone
    control.fire("CHANNEL_UNHOLD", "leg-1", t + 55, call="call-1")
    control.fire("CHANNEL_HOLD", "other", t + 60)  # someone else's channel
    messages = [feed.get(timeout=1) for _ in range(4)]
    assert [(m.kind, m.data["on_hold"], m.data["leg"]) for m in messages] == [
        ("call_hold", True, "call-1"),
        ("call_hold", False, "call-1"),
        ("call_hold", True, "leg-1"),
        ("call_hold", False, "leg-1"),
    ]
    total = watch.close("call-1")
    assert (total.seconds, total.count) == (pytest.approx(35.0), 2)
    assert metrics.value("hotline_queue_holds_total", queue="sales") == 2
    assert metrics.value("hotline_queue_hold_seconds_sum", queue="sales") == pytest.approx(35.0)
    control.fire("CHANNEL_UNHOLD", "call-1", t + 70)  # after the call: ignored
    assert watch.close("call-1").count == 0


def test_an_open_hold_ends_on_freeswitchs_clock_and_a_transfer_ends_the_old_agents_hold(rig) -> None:
    control, _hub, _metrics, watch = rig
    skew = -3600.0  # FreeSWITCH's clock is an hour behind hotline's: on hotline's, the hold would be 1 h
    watch.bridged("call-1", "1001", "sales")
    control.fire("CHANNEL_HOLD", "leg-1", time.time() + skew, call="call-1")
    watch.bridged("call-1", "1002", "backup")  # transferred: leg-1 is gone, its hold ends
    control.fire("CHANNEL_HOLD", "call-1", time.time() + skew)  # so this is a new hold
    total = watch.close("call-1")  # still held: ends now, on FreeSWITCH's clock
    assert total.count == 2
    assert 0 <= total.seconds < 1


def test_an_event_without_a_timestamp_uses_the_estimated_freeswitch_time(rig) -> None:
    control, _hub, _metrics, watch = rig
    watch.bridged("call-1", "1001", "sales")
    control.fire("CHANNEL_HOLD", "call-1", None)
    control.fire("CHANNEL_UNHOLD", "call-1", None)
    total = watch.close("call-1")
    assert total.count == 1 and 0 <= total.seconds < 1

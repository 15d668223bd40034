"""The segments of calls in progress: opened and closed as the call changes hands, hold attributed to the
part that was open, handed over once with the CDR (a fake clock and hold log; no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.acd.hold import HoldTotal
from engine.metrics import Metrics
from engine.runtime.segments import CallSegments, party

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def test_party_of_a_target() -> None:
    assert party("agent:1002") == ("1002", None)
    assert party("number:139") == (None, "139")
    assert party("queue:backup") == (None, None)
    assert party("number:139", "1003") == ("1003", None)


def test_hold_goes_to_the_part_open_and_the_call_is_handed_over_once() -> None:
    clock, hold, metrics = Clock(), {"c": HoldTotal()}, Metrics()
    segs = CallSegments(lambda call: hold.get(call, HoldTotal()), metrics, clock=clock)
    segs.transferred("unknown", "agent:1002")  # a call no queue bridged is nobody's
    segs.bridged("c", "1001", "sales")
    clock.advance(10)
    hold["c"] = HoldTotal(4.0, 1)
    segs.consult_completed("c", "1001", "number:139", None)
    clock.advance(5)
    segs.joined_conference("c", "agent:1003", "1003")
    clock.advance(5)
    segs.left_conference("c", "agent:1003", "1003")
    segs.transferred("c", "agent:1002")
    clock.advance(3)
    segs.caller_bridged("c")
    records = segs.finish("c", clock.now + timedelta(seconds=2), HoldTotal(6.0, 2))
    assert [(r.agent_id, r.number, r.how, r.ended_by, r.hold_seconds, r.hold_count) for r in records] == [
        ("1001", None, "answered", "transferred", 4.0, 1),
        (None, "139", "consult", "transferred", 0.0, 0),
        ("1003", None, "conference", "left_conference", 0.0, 0),
        ("1002", None, "transfer", "hangup", 2.0, 1),
    ]
    assert records[-1].started_at == T0 + timedelta(seconds=23)  # from the bridge, not the transfer
    assert all(r.queue == "sales" for r in records)
    assert segs.finish("c", clock.now, HoldTotal()) == []
    assert metrics.value("hotline_call_segments_total", how="answered", ended_by="transferred") == 1

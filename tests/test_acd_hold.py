"""Hold spans of a call from its legs' hold and resume events (hand-computed)."""

from __future__ import annotations

from engine.acd.hold import HoldLog, HoldTotal


def test_spans_of_either_leg_add_up_and_overlaps_count_once() -> None:
    log = HoldLog()
    assert log.held("c", "caller", 10.0) is True
    assert log.held("c", "caller", 12.0) is False  # a non-SIP leg fires CHANNEL_HOLD again: no new span
    assert log.held("c", "agent", 15.0) is False  # both legs held: still one span
    assert log.unheld("c", "caller", 20.0) is None  # the agent's leg is still held
    assert log.on_hold("c") and log.held_legs("c") == {"agent"}
    assert log.unheld("c", "agent", 25.0) == 15.0
    assert not log.on_hold("c")
    assert log.held("c", "agent", 40.0) is True
    assert log.unheld("c", "agent", 47.5) == 7.5
    assert log.close("c", 60.0) == HoldTotal(22.5, 2)


def test_a_hold_open_at_the_end_ends_with_the_call_and_unknown_resumes_are_ignored() -> None:
    log = HoldLog()
    assert log.unheld("c", "caller", 5.0) is None  # never held
    log.held("c", "caller", 10.0)
    assert log.unheld("c", "agent", 11.0) is None  # the other leg was not held
    assert log.close("c", 30.0) == HoldTotal(20.0, 1)
    assert log.close("c", 31.0) == HoldTotal()  # forgotten once closed
    assert log.close("never", 1.0) == HoldTotal(0.0, 0)
    assert log.held_legs("never") == frozenset()


def test_hold_so_far_counts_an_open_span_to_now_and_keeps_the_call() -> None:
    log = HoldLog()
    assert log.so_far("c", 1.0) == HoldTotal()
    log.held("c", "caller", 10.0)
    log.unheld("c", "caller", 14.0)
    log.held("c", "agent", 20.0)
    assert log.so_far("c", 25.0) == HoldTotal(9.0, 2)  # 4 s done + 5 s of the span still open
    assert log.close("c", 30.0) == HoldTotal(14.0, 2)

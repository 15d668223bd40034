"""Queue intervals (service level, SL2, ASA, talk/hold/wrap-up, AHT, Erlang C staffing), wrap-ups
paired with calls, and agent performance; every expectation is worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.acd.erlang import agents_needed
from engine.acd.reports import (
    AgentCallFact,
    QueuedCallFact,
    agent_performance,
    queue_intervals,
    wrap_for_calls,
    wrap_up_spans,
)

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def fact(
    minute: int, outcome: str, wait: float, talk: float = 0.0, queue: str = "sales", hold: float = 0, wrap: float = 0
) -> QueuedCallFact:
    return QueuedCallFact(queue, T0 + timedelta(minutes=minute), outcome, wait, talk, hold, wrap)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_queue_interval_numbers() -> None:
    calls = [
        fact(1, "answered", 5, 100, hold=20, wrap=10),
        fact(2, "answered", 30, 200, hold=40, wrap=30),
        fact(3, "abandoned", 10),  # a short abandon: not against the service level
        fact(4, "abandoned", 60),
        fact(5, "voicemail", 300),  # left the queue: offered only
        fact(31, "answered", 1, 60),
        fact(2, "answered", 2, 50, queue="billing"),
    ]
    rows = queue_intervals(calls, interval=timedelta(minutes=30), sl_seconds=20)
    assert [(r.queue, r.start.minute, r.offered) for r in rows] == [
        ("billing", 0, 1),
        ("sales", 0, 5),
        ("sales", 30, 1),
    ]
    sales = rows[1]
    assert (sales.answered, sales.answered_in_sl, sales.abandoned, sales.abandoned_in_sl) == (2, 1, 2, 1)
    assert sales.service_level == pytest.approx(1 / 4)
    assert sales.service_level_sl2 == pytest.approx(2 / 5)
    # talk excludes hold: (80 + 160) / 2; hold (20 + 40) / 2; wrap (10 + 30) / 2; AHT their sum
    assert (sales.asa, sales.talk, sales.hold, sales.wrap, sales.aht) == (17.5, 120.0, 30.0, 20.0, 170.0)
    assert sales.agents_needed == agents_needed(5, 1800, 170.0, 20, 0.8).agents
    assert (rows[0].talk, rows[0].hold, rows[0].wrap, rows[0].aht) == (50.0, 0.0, 0.0, 50.0)


def test_an_interval_of_abandons_only_has_no_averages() -> None:
    (row,) = queue_intervals([fact(0, "abandoned", 5)], interval=timedelta(minutes=15), sl_seconds=20)
    assert (row.service_level, row.service_level_sl2, row.asa, row.aht, row.agents_needed) == (
        None,
        1.0,
        None,
        None,
        None,
    )
    with pytest.raises(ValueError, match="interval"):
        queue_intervals([], interval=timedelta(0), sl_seconds=20)


def test_agent_performance_from_the_state_log() -> None:
    log = [
        (at(0), "ready", None),
        (at(100), "reserved", None),
        (at(110), "on_call", None),
        (at(310), "wrap_up", None),
        (at(340), "ready", None),
        (at(400), "reserved", None),
        (at(420), "ready", "no_answer"),  # not answered
        (at(430), "reserved", None),
        (at(440), "ready", "cancelled"),  # another agent answered first (ring_all): not a miss
        (at(500), "break", "lunch"),
        (at(800), "ready", None),
    ]
    p = agent_performance("1001", log, [AgentCallFact(200.0, 45.0, 2)], until=at(1000))
    assert p.seconds_in == {"ready": 430, "reserved": 40, "on_call": 200, "wrap_up": 30, "break": 300}
    assert p.occupancy == pytest.approx(230 / 700)  # (on_call 200 + wrap_up 30) / (1000 - break 300)
    assert (p.calls, p.talk_seconds, p.hold_seconds, p.holds, p.wrap_seconds) == (1, 155.0, 45.0, 2, 30)
    assert p.aht == 230.0  # talk 155 + hold 45 + wrap-up 30
    assert (p.offers, p.offers_not_answered, p.breaks, p.break_seconds) == (3, 1, {"lunch": 1}, {"lunch": 300})


def test_an_agent_without_calls_has_no_handle_time() -> None:
    p = agent_performance("1002", [(at(0), "ready", None)], [], until=at(60))
    assert (p.calls, p.aht, p.occupancy, p.hold_seconds) == (0, None, 0.0, 0.0)


def test_wrap_ups_are_paired_with_the_call_before_them() -> None:
    log = [
        (at(0), "on_call", None),
        (at(100), "wrap_up", None),
        (at(130), "ready", None),
        (at(200), "on_call", None),  # a call with no wrap-up (the queue has none)
        (at(260), "ready", None),
        (at(300), "on_call", None),
        (at(400), "wrap_up", None),  # still in wrap-up at the end of the log
    ]
    spans = wrap_up_spans(log, until=at(410))
    assert spans == [(at(100), 30.0), (at(400), 10.0)]
    assert wrap_for_calls([at(300), at(0), at(200)], spans) == [10.0, 30.0, 0.0]
    assert wrap_for_calls([at(500)], spans) == [0.0]  # wrap-ups before the call are not its own

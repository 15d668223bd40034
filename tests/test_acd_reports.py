"""Queue intervals (service level, SL2, ASA, AHT, Erlang C staffing) and agent performance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.acd.erlang import agents_needed
from engine.acd.reports import QueuedCallFact, agent_performance, queue_intervals

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def fact(minute: int, outcome: str, wait: float, talk: float = 0.0, queue: str = "sales") -> QueuedCallFact:
    return QueuedCallFact(queue, T0 + timedelta(minutes=minute), outcome, wait, talk)


def test_queue_interval_numbers() -> None:
    calls = [
        fact(1, "answered", 5, 100),
        fact(2, "answered", 30, 200),
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
    assert (sales.asa, sales.aht) == (17.5, 150.0)
    assert sales.agents_needed == agents_needed(5, 1800, 150.0, 20, 0.8).agents


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
    at = lambda s: T0 + timedelta(seconds=s)  # noqa: E731
    log = [
        (at(0), "ready", None),
        (at(100), "reserved", None),
        (at(110), "on_call", None),
        (at(310), "wrap_up", None),
        (at(340), "ready", None),
        (at(400), "reserved", None),
        (at(420), "ready", None),  # not answered
        (at(500), "break", "lunch"),
        (at(800), "ready", None),
    ]
    p = agent_performance("1001", log, [200.0], until=at(1000))
    assert p.seconds_in == {"ready": 440, "reserved": 30, "on_call": 200, "wrap_up": 30, "break": 300}
    assert p.occupancy == pytest.approx(230 / 700)
    assert (p.calls, p.talk_seconds, p.offers, p.offers_not_answered, p.breaks) == (1, 200.0, 2, 1, {"lunch": 1})

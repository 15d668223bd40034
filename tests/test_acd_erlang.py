"""Erlang C staffing."""

from __future__ import annotations

import math

import pytest

from engine.acd.erlang import agents_needed, average_speed_of_answer, erlang_c, service_level


def textbook_erlang_c(agents: int, erlangs: float) -> float:
    """P(wait), straight from the Erlang C formula (A^N/N! * N/(N-A)) / (sum_{k<N} A^k/k! + A^N/N! * N/(N-A)),
    computed here term by term, independently of engine.acd.erlang (which uses the Erlang B recursion)."""
    top = erlangs**agents / math.factorial(agents) * agents / (agents - erlangs)
    return top / (sum(erlangs**k / math.factorial(k) for k in range(agents)) + top)


def textbook_service_level(agents: int, erlangs: float, aht: float, target: float) -> float:
    return 1 - textbook_erlang_c(agents, erlangs) * math.exp(-(agents - erlangs) * target / aht)


def test_reference_case_100_calls_in_30_minutes() -> None:
    """The usual worked example (100 calls in 30 min, AHT 180 s, 80 % answered in 20 s: 10 Erlangs)."""
    staffing = agents_needed(calls=100, interval_seconds=1800, aht=180, target_seconds=20, target_sl=0.8)
    erlangs = 100 * 180 / 1800
    needed = next(n for n in range(11, 100) if textbook_service_level(n, erlangs, 180, 20) >= 0.8)
    assert staffing.agents == needed == 14  # 14 is the example's published answer
    assert staffing.service_level == pytest.approx(textbook_service_level(14, erlangs, 180, 20), rel=1e-9)
    assert staffing.asa == pytest.approx(textbook_erlang_c(14, erlangs) * 180 / (14 - erlangs), rel=1e-9)
    assert staffing.traffic_erlangs == erlangs
    assert staffing.occupancy == pytest.approx(erlangs / 14)


def test_one_agent_fewer_misses_the_target() -> None:
    assert service_level(13, 10.0, 180, 20) < 0.8 <= service_level(14, 10.0, 180, 20)


def test_erlang_c_known_values_and_overload() -> None:
    for agents, erlangs in [(14, 10.0), (11, 10.0), (3, 2.5), (50, 42.0)]:
        assert erlang_c(agents, erlangs) == pytest.approx(textbook_erlang_c(agents, erlangs), rel=1e-9)
    assert erlang_c(1, 0.5) == pytest.approx(0.5)  # one server: P(wait) = utilisation (M/M/1)
    assert erlang_c(10, 10.0) == 1.0
    assert service_level(10, 10.0, 180, 20) == 0.0
    assert math.isinf(average_speed_of_answer(9, 10.0, 180))


def test_no_traffic_needs_no_agents() -> None:
    assert agents_needed(0, 1800, 180, 20, 0.8).agents == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"calls": -1}, "calls"),
        ({"interval_seconds": 0}, "interval_seconds"),
        ({"aht": 0}, "aht"),
        ({"target_sl": 1.0}, "target_sl"),
        ({"target_seconds": -5}, "target_seconds"),
    ],
)
def test_bad_input_names_the_field(kwargs: dict[str, float], field: str) -> None:
    args = {"calls": 100, "interval_seconds": 1800, "aht": 180, "target_seconds": 20, "target_sl": 0.8}
    args |= kwargs
    with pytest.raises(ValueError, match=field):
        agents_needed(**args)

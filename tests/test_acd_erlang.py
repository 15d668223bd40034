"""Erlang C staffing."""

from __future__ import annotations

import math

import pytest

from engine.acd.erlang import agents_needed, average_speed_of_answer, erlang_c, service_level


def test_reference_case_100_calls_in_30_minutes() -> None:
    staffing = agents_needed(calls=100, interval_seconds=1800, aht=180, target_seconds=20, target_sl=0.8)
    assert staffing.agents == 14
    assert round(staffing.service_level, 3) == 0.888
    assert round(staffing.asa, 2) == 7.84
    assert staffing.traffic_erlangs == 10
    assert staffing.occupancy == pytest.approx(10 / 14)


def test_one_agent_fewer_misses_the_target() -> None:
    assert service_level(13, 10.0, 180, 20) < 0.8 <= service_level(14, 10.0, 180, 20)


def test_erlang_c_known_values_and_overload() -> None:
    assert erlang_c(14, 10.0) == pytest.approx(0.1741, abs=1e-4)
    assert erlang_c(1, 0.5) == pytest.approx(0.5)
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

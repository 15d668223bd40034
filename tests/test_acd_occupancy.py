"""Rolling-window occupancy and seconds per state from agent state changes (hand-computed)."""

from __future__ import annotations

import tracemalloc

import pytest

from engine.acd.occupancy import StateHistory, combine
from engine.acd.states import AgentState


def test_occupancy_over_the_window_excludes_break_and_logged_out_time() -> None:
    h = StateHistory(window=100)
    h.record("a", "ready", 0)
    h.record("a", "on_call", 50)
    h.record("a", "wrap_up", 120)
    h.record("a", "break", 130)
    h.record("a", "ready", 150)
    # window [60, 160]: on_call 60..120 (60), wrap_up 10, break 20 (not available), ready 10
    assert h.occupancy(["a"], 160) == pytest.approx(70 / 80)
    h.record("b", "ready", 100)
    # b: ready 100..160 = 60 available, 0 busy; together 70 / 140
    assert h.occupancy(["a", "b"], 160) == pytest.approx(70 / 140)
    assert h.occupancy(["nobody"], 160) is None
    h.record("b", "logged_out", 160)
    assert h.occupancy(["b"], 300) is None  # logged out for the whole window
    assert h.window_all(160) == {"a": (70, 80), "b": (0, 60)}
    assert combine(h.window_all(160).values()) == pytest.approx(70 / 140)
    assert combine([]) is None


def test_seconds_by_state_include_open_spans_and_never_go_back() -> None:
    h = StateHistory(window=10)
    h.record("a", "ready", 0)
    h.record("a", "on_call", 30)
    assert h.seconds_by_state(40) == {"ready": 30, "on_call": 10}
    h.record("a", "wrap_up", 45)
    h.record("a", "logged_out", 50)
    assert h.seconds_by_state(1000) == {"ready": 30, "on_call": 15, "wrap_up": 5}
    # old changes beyond the window are dropped, totals kept
    assert h.occupancy(["a"], 55) == pytest.approx(5 / 5)  # window [45, 55]: wrap_up 5, logged out 5


def test_a_bad_window_is_refused_and_time_going_back_counts_as_no_time() -> None:
    with pytest.raises(ValueError, match="window"):
        StateHistory(window=0)
    h = StateHistory(window=10)
    h.record("a", "ready", 5)
    h.record("a", "on_call", 4)  # before the previous change: taken as at 5
    assert h.seconds_by_state(8) == {"ready": 0, "on_call": 3}


def test_an_agents_own_dials_count_as_busy() -> None:
    h = StateHistory(window=100)
    h.record("a", "ready", 0)
    h.record("a", "engaged", 50)
    assert h.occupancy(["a"], 100) == 0.5


def test_an_agents_history_keeps_only_what_covers_the_window() -> None:
    """The memory bound the soak relies on (docs/performance.md, "Soak"): a day of changes every second,
    100 s window: only the changes of the last 100 s (and the one open at its start) are kept."""
    h = StateHistory(window=100)
    for second in range(86_400):
        h.record("a", ("ready", "on_call", "wrap_up")[second % 3], second)
    assert len(h._changes["a"]) == 101  # the changes at 86,299..86,399: 86,299 is open at the window's start
    # window [86,300, 86,400]: ready 33 s of 100 (second % 3 == 0), the rest busy
    assert h.occupancy(["a"], 86_400) == pytest.approx(67 / 100)


def test_a_change_kept_costs_its_time_and_a_tuple_not_a_copy_of_the_states_name() -> None:
    """About 3.7 changes per call are kept for the whole window (97,000 at 29 calls/s for 900 s: the soak's
    largest table). The runtime passes ``str(AgentState)``, a new string each time."""
    states = [AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP, AgentState.READY]
    h = StateHistory(window=1e9)
    tracemalloc.start()
    try:
        for n in range(40_000):
            h.record(f"{1001 + n % 200}", str(states[n % 4]), 1000.0 + n)
        per_change = tracemalloc.get_traced_memory()[0] / 40_000
    finally:
        tracemalloc.stop()
    # a 2-tuple (56 B) and its float (24 B) in pymalloc, the deque's slot (8 B); a copy of the name adds 56 B
    assert per_change < 110, f"{per_change:.0f} bytes per change kept"

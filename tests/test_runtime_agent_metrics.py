"""Occupancy gauges, seconds per state and wrap-up per queue from the ACD's state changes."""

from __future__ import annotations

import pytest

from engine.acd.commands import AgentStateChanged
from engine.acd.states import AgentState as S
from engine.metrics import Metrics
from engine.runtime.agent_metrics import AgentMetrics


class FakeShell:
    """What AgentMetrics uses of the ACD shell: listeners, the clock and queue membership."""

    def __init__(self) -> None:
        self.now = 0.0
        self.state_listeners: list = []
        self.bridge_listeners: list = []
        self.acd = self

    def on_agent_state(self, listener) -> None:
        self.state_listeners.append(listener)

    def on_bridged(self, listener) -> None:
        self.bridge_listeners.append(listener)

    def clock(self) -> float:
        return self.now

    def queue_names(self) -> list[str]:
        return ["sales", "empty"]

    def members(self, queue: str) -> list[str]:
        return ["1001", "1002"] if queue == "sales" else ["1003"]

    def change(self, agent: str, old: S, new: S, at: float) -> None:
        for listener in self.state_listeners:
            listener(AgentStateChanged(agent, old, new, "", at))


def test_wrap_up_is_observed_per_queue_and_occupancy_read_at_scrape() -> None:
    shell, metrics = FakeShell(), Metrics()
    AgentMetrics(shell, metrics, window_seconds=100)  # type: ignore[arg-type]
    shell.change("1001", S.LOGGED_OUT, S.READY, 0)
    shell.change("1002", S.LOGGED_OUT, S.READY, 0)
    shell.change("1001", S.READY, S.RESERVED, 10)
    shell.change("1001", S.RESERVED, S.ON_CALL, 20)
    for listener in shell.bridge_listeners:
        listener("call-1", "1001", "sales")
    shell.change("1001", S.ON_CALL, S.WRAP_UP, 80)
    shell.change("1001", S.WRAP_UP, S.READY, 92)
    shell.now = 100
    assert metrics.value("hotline_queue_wrap_seconds_count", queue="sales") == 1
    assert metrics.value("hotline_queue_wrap_seconds_sum", queue="sales") == 12
    assert metrics.value("hotline_agent_occupancy", agent="1001") == pytest.approx(72 / 100)
    assert metrics.value("hotline_agent_occupancy", agent="1002") == 0
    assert metrics.value("hotline_queue_occupancy", queue="sales") == pytest.approx(72 / 200)
    assert metrics.registry.get_sample_value("hotline_queue_occupancy", {"queue": "empty"}) is None
    assert metrics.value("hotline_agent_state_seconds_total", state="ready") == 18 + 100  # 1001: 0..10 and 92..100

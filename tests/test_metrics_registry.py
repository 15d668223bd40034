"""Every metric hotline exports is documented for operators, and live gauges read the ACD."""

from __future__ import annotations

from pathlib import Path

from engine.metrics import LiveSample, Metrics, OccupancySample, QueueSample

DOC = (Path(__file__).parents[1] / "docs" / "metrics.md").read_text()


def test_every_metric_family_is_in_docs_metrics_md():
    metrics = Metrics()
    metrics.watch_live(lambda: LiveSample([QueueSample("q", 1, 2.0, {"ready": 1})], {"ready": 1}))
    metrics.watch_occupancy(lambda: OccupancySample(900, {"q": 0.5}, {"1001": 0.5}, {"ready": 1.0}))
    names = {family.name for family in metrics.registry.collect()}
    undocumented = sorted(n for n in names if f"`{n}" not in DOC)
    assert not undocumented, f"add these to docs/metrics.md: {undocumented}"


def test_live_gauges_are_read_at_scrape_time():
    state = {"waiting": 3}
    metrics = Metrics()
    queue = lambda: QueueSample("support", state["waiting"], 12.5, {"ready": 2})  # noqa: E731
    metrics.watch_live(lambda: LiveSample([queue()], {"ready": 2}))
    assert metrics.value("hotline_queue_calls_waiting", queue="support") == 3
    state["waiting"] = 0
    assert metrics.value("hotline_queue_calls_waiting", queue="support") == 0
    assert metrics.value("hotline_queue_longest_wait_seconds", queue="support") == 12.5
    assert metrics.value("hotline_agents", state="ready") == 2
    assert metrics.value("hotline_queue_agents", queue="support", state="ready") == 2


def test_occupancy_is_read_at_scrape_time_and_unknown_values_are_left_out():
    metrics = Metrics()
    metrics.watch_occupancy(
        lambda: OccupancySample(900, {"sales": 0.75, "empty": None}, {"1001": 0.5}, {"on_call": 120.0})
    )
    assert metrics.value("hotline_queue_occupancy", queue="sales") == 0.75
    assert metrics.registry.get_sample_value("hotline_queue_occupancy", {"queue": "empty"}) is None
    assert metrics.value("hotline_agent_occupancy", agent="1001") == 0.5
    assert metrics.value("hotline_agent_state_seconds_total", state="on_call") == 120.0

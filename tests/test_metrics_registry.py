"""Every metric hotline exports is documented for operators, and live gauges read the ACD."""

from __future__ import annotations

from pathlib import Path

import pytest

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


def test_labelled_children_are_reused_and_bad_label_values_still_refused():
    """Hot paths ask for the same child on every ESL command: the answer comes from a cache, and what is
    counted is what /metrics exposes, whichever way (by position or by name) the labels were given."""
    metrics = Metrics()
    child = metrics.esl_latency.labels("api uuid_bridge")
    assert metrics.esl_latency.labels("api uuid_bridge") is child
    assert metrics.esl_latency.labels(command="api uuid_bridge") is child
    child.observe(0.002)
    metrics.esl_latency.labels("api uuid_bridge").observe(0.004)
    metrics.offers.labels("answered").inc()
    metrics.offers.labels(result="answered").inc()
    assert metrics.value("hotline_esl_command_seconds_count", command="api uuid_bridge") == 2
    assert metrics.value("hotline_offers_total", result="answered") == 2
    for bad in (("a", "b"), ()):
        with pytest.raises(ValueError):
            metrics.esl_latency.labels(*bad)

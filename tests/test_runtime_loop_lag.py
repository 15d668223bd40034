"""The event loop's lag monitor: its samples, what admission reads, and the histogram it feeds."""

from __future__ import annotations

from gevent import monkey

from engine.metrics import Metrics
from engine.runtime.loop_lag import LoopLag
from tests.acd_rig import wait_until

blocking_sleep = monkey.get_original("time", "sleep")  # the tests run monkey-patched


def test_a_held_loop_is_seen_by_the_monitor_and_in_the_histogram() -> None:
    metrics = Metrics()
    lag = LoopLag(interval=0.005)
    lag.listeners.append(metrics.loop_lag.observe)
    lag.start()
    try:
        wait_until(lambda: metrics.value("hotline_event_loop_lag_seconds_count") >= 2, what="two samples")
        blocking_sleep(0.3)  # holds the whole loop, as a synchronous database write did
        wait_until(
            lambda: metrics.value("hotline_event_loop_lag_seconds_bucket", le="0.25")
            < metrics.value("hotline_event_loop_lag_seconds_count"),
            what="a sample over 0.25 s",
        )
    finally:
        lag.stop()
    assert metrics.value("hotline_event_loop_lag_seconds_sum") >= 0.29


def test_sustained_lag_is_the_smallest_of_the_last_samples_and_a_failing_listener_is_logged(caplog) -> None:
    lag = LoopLag(window=3)
    seen: list[float] = []
    lag.listeners += [lambda _s: 1 / 0, seen.append]
    for sample in (0.9, 0.1, 0.7, 0.8):
        lag.sample(sample)
    assert (lag.current, lag.sustained) == (0.8, 0.1)
    lag.sample(0.6)
    assert lag.sustained == 0.6  # 0.7, 0.8, 0.6: the one-off 0.1 has left the window
    assert seen == [0.9, 0.1, 0.7, 0.8, 0.6]
    assert caplog.text.count("loop lag listener failed") == 5

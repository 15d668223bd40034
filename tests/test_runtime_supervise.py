"""Supervised greenlets restart after an error, counted; the loop-lag probe sees the loop held."""

from __future__ import annotations

import gevent
from gevent.queue import Queue

from engine.metrics import Metrics
from engine.runtime.supervise import supervised


def restarts(metrics: Metrics, name: str) -> float:
    return metrics.registry.get_sample_value("hotline_greenlet_restarts_total", {"name": name}) or 0.0


def test_a_loop_that_raises_is_logged_restarted_and_counted_until_it_returns(caplog) -> None:
    metrics = Metrics()
    runs: Queue = Queue()

    def flaky() -> None:
        runs.put(True)
        if len(runs) < 3:
            raise RuntimeError("the database went away")

    greenlet = supervised("flaky", flaky, metrics, backoff=(0.001, 0.01))
    assert greenlet.join(timeout=10) is None and greenlet.dead and greenlet.successful()
    assert len(runs) == 3
    assert restarts(metrics, "flaky") == 2
    assert sum("flaky failed" in r.getMessage() and r.exc_info is not None for r in caplog.records) == 2


def test_killing_a_supervised_greenlet_stops_it_without_a_restart() -> None:
    metrics = Metrics()
    started: Queue = Queue()

    def forever() -> None:
        started.put(True)
        gevent.sleep(3600)  # stands for a loop that never ends

    greenlet = supervised("forever", forever, metrics)
    started.get(timeout=5)
    greenlet.kill(timeout=5)
    assert greenlet.dead
    assert restarts(metrics, "forever") == 0

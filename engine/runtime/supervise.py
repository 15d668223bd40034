"""Long-lived greenlets that never die of an error, and the event loop's own lag.

:func:`supervised` runs a loop (the ACD's ticker, the orphan-leg reconciler, retention, campaign
pacing, the database writer...) so that an exception is logged with its traceback, counted in
``hotline_greenlet_restarts_total{name}`` and the loop started again after a backoff (doubling from
``backoff[0]`` to ``backoff[1]``, back to the start after a run that lasted ``backoff[1]``). A loop
that returns is done; killing the greenlet stops it.

:func:`watch_loop_lag` is one of them: it sleeps ``interval`` seconds at a time and observes how late
each wake-up is in ``hotline_event_loop_lag_seconds``: the time something held the loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import gevent

from engine.metrics import Metrics

log = logging.getLogger(__name__)


def supervised(
    name: str,
    run: Callable[..., Any],
    metrics: Metrics,
    *args: Any,
    backoff: tuple[float, float] = (0.1, 30.0),
) -> gevent.Greenlet:
    """Spawn ``run(*args)`` under supervision (see the module's docstring); returns its greenlet."""

    def loop() -> None:
        delay = backoff[0]
        while True:
            started = time.monotonic()
            try:
                run(*args)
                return
            except Exception:
                log.exception("%s failed; restarting in %.2f s", name, delay)
            metrics.greenlet_restarts.labels(name).inc()
            if time.monotonic() - started >= backoff[1]:
                delay = backoff[0]
            gevent.sleep(delay)  # a backoff timer before the restart
            delay = min(delay * 2, backoff[1])

    greenlet = gevent.spawn(loop)
    greenlet.name = name
    return greenlet

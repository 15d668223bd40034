"""How late the gevent event loop runs: a greenlet that asks to wake every ``interval`` seconds and
measures how much later than asked it woke.

:attr:`LoopLag.current` is the latest lag in seconds; :attr:`LoopLag.sustained` the smallest of the
last few (a lag every recent sample shows, not one stall: what admission control reads). Every sample
also goes to the callables in :attr:`LoopLag.listeners` (e.g. a histogram's ``observe``). One monitor
per engine; it costs one wake-up per interval.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable

import gevent

log = logging.getLogger(__name__)


class LoopLag:
    """The event loop's current lag, sampled every ``interval`` seconds while started."""

    def __init__(self, interval: float = 0.1, clock: Callable[[], float] = time.monotonic, window: int = 3) -> None:
        self.interval = interval
        self.clock = clock
        #: The latest sample, seconds (0.0 before the first).
        self.current = 0.0
        self._recent: deque[float] = deque([0.0], maxlen=window)
        #: Called with every sample, in the monitor's greenlet; one failing is logged, never stops it.
        self.listeners: list[Callable[[float], None]] = []
        self._greenlet: gevent.Greenlet | None = None

    @property
    def sustained(self) -> float:
        """The smallest of the last ``window`` samples, seconds."""
        return min(self._recent)

    def start(self) -> None:
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None

    def _run(self) -> None:
        while True:
            asked = self.clock() + self.interval
            gevent.sleep(self.interval)
            self.sample(max(0.0, self.clock() - asked))

    def sample(self, lag: float) -> None:
        """Record one measurement (the monitor calls this; tests may too)."""
        self.current = lag
        self._recent.append(lag)
        for listener in self.listeners:
            try:
                listener(lag)
            except Exception:
                log.exception("loop lag listener failed")

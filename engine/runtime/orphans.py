"""Legs hotline started and let go of: killed at once, and again if FreeSWITCH still (or later) lists them.

A leg whose ``originate`` reply timed out may only appear after the kill was sent (the originate was
still under way on a busy switch), so one ``uuid_kill`` is not enough: :meth:`OrphanLegs.reconcile`
compares the legs let go of with FreeSWITCH's channel list (``show channels as json``) and kills those
still there, counted in ``hotline_orphan_legs_killed_total{reason="reconcile"}``.
"""

from __future__ import annotations

import json
import logging
import re
import time
import weakref
from collections.abc import Callable
from typing import Protocol

import gevent

from engine.metrics import Metrics
from engine.transport import ESLError

log = logging.getLogger(__name__)

# FreeSWITCH's `status`: "3 session(s) - peak 7, last 5min 5" and "1000 session(s) max"
_SESSIONS_NOW = re.compile(r"^(\d+) session\(s\) - peak", re.MULTILINE)
_SESSIONS_MAX = re.compile(r"^(\d+) session\(s\) max", re.MULTILINE)
CAPACITY_SECONDS = 15.0
"""How often ``status`` is asked for the channel gauges (a scrape interval; independent of the reconcile period)."""


WATCHING: weakref.WeakSet[OrphanLegs] = weakref.WeakSet()  # watchers started (tests check none outlives its test)


class Esl(Protocol):
    def api(self, cmd: str, *args: str, timeout: float | None = None) -> str: ...

    @property
    def stopped(self) -> bool:
        """The client was stopped: it will never answer again (InboundClient.stopped)."""
        ...


class OrphanLegs:
    """The legs let go of (uuid -> when), checked against FreeSWITCH until gone for ``memory_seconds``."""

    def __init__(
        self,
        control: Esl,
        metrics: Metrics | None,
        clock: Callable[[], float] = time.monotonic,
        memory_seconds: float = 300.0,
    ) -> None:
        self.control, self.metrics, self.clock = control, metrics, clock
        self.memory_seconds = memory_seconds
        self._legs: dict[str, float] = {}
        self._watcher: gevent.Greenlet | None = None

    def __contains__(self, leg: object) -> bool:
        return leg in self._legs

    def kill(self, leg: str, cause: str) -> bool:
        """``uuid_kill``; True when FreeSWITCH killed a channel."""
        try:
            self.control.api("uuid_kill", leg, cause)
        except ESLError as exc:
            log.debug("uuid_kill %s: %s", leg, exc)
            return False
        return True

    def release(self, leg: str, cause: str, counted_as: str = "") -> None:
        """Let go of ``leg``: kill it now and remember it for :meth:`reconcile`. ``counted_as``: the metric
        reason of a kill that found the leg (e.g. ``command_timeout``); empty: a routine release."""
        self._legs[leg] = self.clock()
        if self.kill(leg, cause) and counted_as:
            self._count(counted_as)

    def _count(self, reason: str) -> None:
        if self.metrics is not None:
            self.metrics.orphan_legs_killed.labels(reason).inc()

    def reconcile(self) -> int:
        """Kill the legs let go of that FreeSWITCH lists; forget those let go of ``memory_seconds`` ago
        (earlier passes killed them if they were there). Returns how many were killed (0 when the
        channel list could not be had: FreeSWITCH unreachable, or not the expected JSON)."""
        horizon = self.clock() - self.memory_seconds
        for leg in [leg for leg, since in self._legs.items() if since < horizon]:
            del self._legs[leg]
        if not self._legs:
            return 0
        try:
            reply = self.control.api("show", "channels", "as", "json")
        except ESLError as exc:  # reconnecting, or stopped: the next pass tries again
            log.info("reconcile: no channel list: %s", exc)
            return 0
        try:
            rows = json.loads(reply).get("rows", [])
            present = {str(row.get("uuid", "")) for row in rows if isinstance(row, dict)}
        except (ValueError, AttributeError) as exc:  # never trusted in part
            log.warning("reconcile: the channel list is not the expected JSON: %s", exc)
            return 0
        killed = 0
        for leg in list(self._legs):
            if leg in present:
                log.warning("reconcile: killing leg %s, which hotline started and no longer owns", leg)
                if self.kill(leg, "NORMAL_CLEARING"):
                    killed += 1
                    self._count("reconcile")
        return killed

    def sample_capacity(self) -> bool:
        """FreeSWITCH's channel count and max-sessions limit (from ``status``) into the metrics; False,
        and the gauges left as they were, when ``status`` cannot be had or read."""
        if self.metrics is None:
            return False
        try:
            reply = self.control.api("status")
        except ESLError as exc:
            log.debug("status: %s", exc)
            return False
        now, limit = _SESSIONS_NOW.search(reply), _SESSIONS_MAX.search(reply)
        if now is None or limit is None:
            log.warning("status: no session counts in FreeSWITCH's reply %r", reply[:200])
            return False
        self.metrics.freeswitch_sessions.set(int(now.group(1)))
        self.metrics.freeswitch_max_sessions.set(int(limit.group(1)))
        return True

    def run_forever(self, period: Callable[[], float]) -> None:
        """Reconcile every ``period()`` seconds (read at least once a second: a changed period applies);
        sample FreeSWITCH's capacity at the first pass and every ``CAPACITY_SECONDS`` after."""
        last = time.monotonic()
        sampled = last - CAPACITY_SECONDS
        while True:
            gevent.sleep(min(1.0, period()))  # a timer: the reconciliation's period
            if time.monotonic() - last >= period():
                last = time.monotonic()
                self.reconcile()
            if time.monotonic() - sampled >= CAPACITY_SECONDS:
                sampled = time.monotonic()
                self.sample_capacity()

    def watch(self, period: Callable[[], float]) -> None:
        """Reconcile every ``period()`` seconds while any leg is remembered: started on demand, the
        watcher ends by itself once every leg let go of is forgotten, or once its ESL client is stopped."""
        if self._watcher is None or self._watcher.dead:
            self._watcher = gevent.spawn(self._watch, period)
            WATCHING.add(self)

    @property
    def watching(self) -> bool:
        return self._watcher is not None and not self._watcher.dead

    def stop_watching(self) -> None:
        """End the on-demand watcher (its owner stops; the legs still remembered are not looked for)."""
        WATCHING.discard(self)
        if self._watcher is not None:
            self._watcher.kill(timeout=1)
            self._watcher = None

    def _watch(self, period: Callable[[], float]) -> None:
        last = time.monotonic()
        while self._legs and not self.control.stopped:  # a stopped client never answers
            gevent.sleep(min(1.0, period()))  # a timer: the reconciliation's period
            if time.monotonic() - last >= period():
                last = time.monotonic()
                self.reconcile()

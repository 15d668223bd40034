"""Admission control: when the engine is behind, a new inbound call is turned away at once.

The outbound-socket server asks before the handshake (the cheapest point: no ``connect``, no
``myevents``, no session); a call turned away has its socket closed untouched, so FreeSWITCH's
dialplan goes on after ``socket`` to the fallback (message, ring group, voicemail) instead of the
call being accepted and then lost. :func:`decide` is the rule, pure; :class:`Admission` reads the
engine's load, applies the rule, counts (``hotline_calls_turned_away_total{reason}``) and logs once
per burst of turned-away calls.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.metrics import Metrics
from engine.runtime.loop_lag import LoopLag

if TYPE_CHECKING:
    from engine.runtime.hotline import Hotline

log = logging.getLogger(__name__)

IVR_COUNT_SECONDS = 0.1  # the calls in the IVR, counted at most this often (the lag is sampled as often)
#: The reasons, in the order they are checked (the first over its limit is the one counted).
REASONS = ("loop_lag", "pending_commands", "reply_wait", "calls_in_ivr")


@dataclass(frozen=True)
class Load:
    """How far behind the engine is right now."""

    loop_lag_seconds: float  # the event loop's sustained lag (engine.runtime.loop_lag)
    pending_commands: int  # ESL commands sent on the control connection and not yet answered
    calls_in_ivr: int  # calls on an outbound socket that are not (yet) the ACD's
    reply_wait_seconds: float  # how long the oldest unanswered command on the control connection has waited


@dataclass(frozen=True)
class Limits:
    """Over any of these a new call is turned away (``admission`` in hotline.yaml)."""

    max_loop_lag_seconds: float
    max_pending_commands: int
    max_calls_in_ivr: int
    max_reply_wait_seconds: float


def decide(load: Load, limits: Limits) -> str | None:
    """``None`` to take the call, else why it is turned away (one of :data:`REASONS`)."""
    if load.loop_lag_seconds > limits.max_loop_lag_seconds:
        return "loop_lag"
    if load.pending_commands > limits.max_pending_commands:
        return "pending_commands"
    if load.reply_wait_seconds > limits.max_reply_wait_seconds:
        return "reply_wait"
    if load.calls_in_ivr > limits.max_calls_in_ivr:
        return "calls_in_ivr"
    return None


class Admission:
    """Applies :func:`decide` to the load ``probe`` reports, for each new call.

    The outbound-socket server starts and stops it with itself (``start``/``stop`` run the event-loop
    lag monitor, :attr:`lag`, whose samples other metrics may also read: ``lag.listeners``).
    """

    def __init__(
        self,
        probe: Callable[[], Load],
        limits: Limits,
        metrics: Metrics | None = None,
        lag: LoopLag | None = None,
    ) -> None:
        self.probe = probe
        self.limits = limits
        self.metrics = metrics
        self.lag = lag or LoopLag()
        self._burst = 0  # calls turned away since the last one taken

    @classmethod
    def of(cls, engine: Hotline) -> Admission:
        """The engine's admission: its loop lag, its control connection's pending commands, how long
        FreeSWITCH has kept the control connection waiting for a reply (a switch short of CPU answers late
        long before commands pile up; the control connection carries a new call's offer and bridge, while
        the dialler's, the relay of talking callers, can lag alone: measured, counting it turned away calls
        that could be served), and the calls on its outbound sockets that the ACD does not hold (in the
        IVR), against ``admission``."""
        settings, lag = engine.config.admission, LoopLag()

        counted = [-1.0, 0]  # when the calls in the IVR were last counted (monotonic), and how many

        def probe() -> Load:
            at = time.monotonic()
            if at - counted[0] >= IVR_COUNT_SECONDS:  # a walk over every live call: not for each new call
                held = engine.acd.acd.has_call  # queued, parked or talking: the ACD holds it
                counted[:] = [at, sum(1 for call in engine.outbound.active if not held(call.uuid))]
            load = Load(lag.sustained, engine.control.pending, int(counted[1]), engine.control.reply_wait)
            counted[1] += 1  # until the next count, each call asked about counts as one more in the IVR
            return load

        limits = Limits(
            settings.max_loop_lag_seconds,
            settings.max_pending_commands,
            settings.max_calls_in_ivr,
            settings.max_reply_wait_seconds,
        )
        return cls(probe, limits, engine.metrics, lag)

    def start(self) -> None:
        self.lag.start()

    def stop(self) -> None:
        self.lag.stop()

    def __call__(self) -> str | None:
        """Whether to take the next call: ``None`` (take it) or the reason it is turned away."""
        load = self.probe()
        reason = decide(load, self.limits)
        if reason is None:
            if self._burst:
                log.warning("admission: taking calls again after turning %d away", self._burst)
                self._burst = 0
            return None
        if not self._burst:
            log.warning(
                "admission: turning new calls away (%s): loop lag %.3f s, %d ESL commands pending, oldest reply "
                "awaited %.3f s, %d calls in the IVR",
                reason, load.loop_lag_seconds, load.pending_commands, load.reply_wait_seconds, load.calls_in_ivr,
            )  # fmt: skip
        self._burst += 1
        if self.metrics:
            self.metrics.calls_turned_away.labels(reason).inc()
        return reason

"""The emulator's "slow and lossy" mode: FreeSWITCH as it behaves under load.

Measured on a real FreeSWITCH at 20-40 calls/s (docs/performance.md): replies to ``api`` and
``bgapi`` come late, some after the client's command timeout; a caller hangs up between two of
hotline's commands (``uuid_break``/``uuid_bridge`` then find no channel); events arrive late. Every
knob is off by default. Draws are seeded and keyed by the command's text, so the same command is
treated the same in every run (``Overload(seed=...)``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import gevent

VANISH_COMMANDS = ("uuid_break", "uuid_bridge")
"""Commands before which a caller may hang up (the caller's uuid is their first argument)."""


@dataclass
class Overload:
    """How slow and lossy the emulated switch is.

    ``reply_delay``: every ``api`` reply and ``bgapi`` job is delayed by a uniform draw in this range
    (seconds; an ``api`` delay also holds the connection's later commands, as one busy ESL thread does).
    ``late_jobs``: this share of ``bgapi`` jobs (e.g. ``originate``) start ``late_job_seconds`` late,
    past the client's timeout: an originated leg then appears after the client gave up on it.
    ``vanish``: this share of ``uuid_break``/``uuid_bridge`` commands on a caller's (inbound) channel find
    the caller just hung up (``-ERR No such channel!``).
    ``event_delay``: every event reaches clients this much later (in order).
    """

    seed: int = 0
    reply_delay: tuple[float, float] = (0.0, 0.0)
    late_jobs: float = 0.0
    late_job_seconds: float = 0.0
    vanish: float = 0.0
    event_delay: float = 0.0

    def __post_init__(self) -> None:
        lo, hi = self.reply_delay
        for name, value in (("late_jobs", self.late_jobs), ("vanish", self.vanish)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"Overload.{name}: a share between 0 and 1, got {value!r}")
        if lo < 0 or hi < lo or self.late_job_seconds < 0 or self.event_delay < 0:
            raise ValueError(f"Overload: delays must be >= 0 (reply_delay lo <= hi), got {self!r}")
        self.counts = {"late_jobs": 0, "vanished": 0}

    def _draw(self, *key: str) -> float:
        return random.Random(":".join((str(self.seed), *key))).random()

    def reply_wait(self, name: str, arg: str, background: bool) -> float:
        """Seconds to hold the command ``name arg`` before running it."""
        lo, hi = self.reply_delay
        wait = lo + (hi - lo) * self._draw("delay", name, arg)
        if background and self.late_jobs and self._draw("late", name, arg) < self.late_jobs:
            self.counts["late_jobs"] += 1
            wait += self.late_job_seconds
        return wait

    def before(self, name: str, arg: str, channels: dict[str, Any], timeout: float = 5.0) -> None:
        """Just before ``name arg`` runs: maybe the caller it names hangs up (and is gone) first."""
        if name not in VANISH_COMMANDS or not self.vanish:
            return
        words = arg.split()
        ch = channels.get(words[0]) if words else None
        if ch is None or ch.direction != "inbound" or self._draw("vanish", words[0]) >= self.vanish:
            return
        if ch.hangup("NORMAL_CLEARING"):
            self.counts["vanished"] += 1
        with gevent.Timeout(timeout, False):
            while words[0] in channels:  # destroyed: FreeSWITCH no longer finds it
                gevent.sleep(0.001)

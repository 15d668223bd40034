"""A clean stop (SIGTERM): stop taking calls, hand waiting callers on, let talking calls finish.

1. The listening socket closes: FreeSWITCH's ``socket`` application is refused, so new calls go to
   the dialplan's fallback (or a standby engine) at once.
2. Every waiting caller is handed on (:class:`HandOn`): their session sets ``hotline_reclaim_seconds``
   on the channel (``park_seconds``: the next engine takes them back from the park; below 2 the park is
   skipped and the fallback runs), stops the hold music and closes its socket, so the dialplan goes on
   at once. Callers still in the IVR are handed on as soon as they queue.
3. Bridged calls go on until they end, at most ``limit_seconds``; their records are written as usual.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import gevent

from engine.transport import ESLError

log = logging.getLogger(__name__)
RECLAIM_SECONDS = "hotline_reclaim_seconds"
MIN_PARK_SECONDS = 2  # FreeSWITCH ignores playback_timeout_sec below 2: the dialplan's park needs at least 2


@dataclass(frozen=True)
class HandOn:
    """To a waiting caller's session: the engine stops; leave the caller to FreeSWITCH's dialplan."""

    park_seconds: int


def hand_on(call: Any, message: HandOn) -> bool:
    """Leave the caller to the dialplan after ``socket``; True when they are parked for the next engine
    (which then records the call), False when the fallback takes them (this engine records it)."""
    parked = message.park_seconds >= MIN_PARK_SECONDS
    try:
        call.execute("set", f"{RECLAIM_SECONDS}={message.park_seconds if parked else 0}", timeout=5)
        call.api("uuid_break", call.uuid, "all")  # the hold music: the dialplan goes on at once
    except ESLError as exc:
        log.info("%s: hand-on: %s", call.uuid, exc)
    call.close()
    log.info("%s: handed on to the %s", call.uuid, "park" if parked else "fallback")
    return parked


class Drain:
    """Runs the steps of a clean stop; :meth:`run` returns when the engine may stop."""

    def __init__(
        self,
        stop_accepting: Callable[[], None],
        waiting: Callable[[], Collection[Any]],
        active: Callable[[], Collection[Any]],
        *,
        park_seconds: int,
        limit_seconds: float,
    ) -> None:
        """``waiting``: the queued callers' :class:`~engine.runtime.notices.QueuedInfo` (inboxes);
        ``active``: the calls whose sessions still run."""
        self.stop_accepting, self.waiting, self.active = stop_accepting, waiting, active
        self.park_seconds, self.limit_seconds = park_seconds, limit_seconds
        self.handed: set[str] = set()

    def run(self) -> dict[str, int]:
        """Drain; returns what happened (callers handed on, calls cut at the limit)."""
        self.stop_accepting()
        deadline = time.monotonic() + self.limit_seconds
        log.info("draining: no new calls; handing waiting callers on; up to %.0f s for calls", self.limit_seconds)
        while self.active() and time.monotonic() < deadline:
            self._hand_on_waiting()
            gevent.sleep(0.05)
        cut = len(self.active())
        log.info("drained: %d callers handed on, %d calls cut at the limit", len(self.handed), cut)
        return {"handed_on": len(self.handed), "cut": cut}

    def _hand_on_waiting(self) -> None:
        for info in list(self.waiting()):
            if info.call_id not in self.handed:
                self.handed.add(info.call_id)
                info.inbox.put(HandOn(self.park_seconds))

"""Reclaimed callers: a caller parked in FreeSWITCH while the engine was away gets their place back.

The restarted engine reads each parked caller's place from their channel (queue, priority, join
time) and holds it at once (:meth:`Reclaims.park`: state ``parked``, never offered); when the
caller's socket is back, :meth:`Reclaims.reclaim` queues the call where it was (``reclaim``).
"""

from __future__ import annotations

from typing import Any

from engine.acd import commands
from engine.acd.base import AcdBase, _Timer
from engine.acd.model import QueuedCall
from engine.acd.states import CallEvent, CallState, Machine, transition


class Reclaims(AcdBase):
    """The reclaim events of the ACD."""

    def park(
        self,
        call_id: str,
        queue: str,
        priority: int,
        enqueued_at: float,
        now: float,
        *,
        caller: str = "",
        data: dict[str, Any] | None = None,
    ) -> list[commands.Command]:
        """Hold the place of a caller parked in FreeSWITCH: ``enqueued_at`` is their first join time
        (on the ACD's clock; never later than ``now``). The call is not routed until :meth:`reclaim`."""
        config = self._queue(queue)
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise ValueError(f"park({call_id!r}).priority: must be an integer, got {priority!r}")
        if call_id in self._calls:
            raise ValueError(f"park({call_id!r}).call_id: the call is already in the ACD")
        if call_id in self._gone:
            raise ValueError(f"park({call_id!r}).call_id: the caller's channel is gone")
        self._advance(now)
        call = QueuedCall(
            call_id=call_id,
            queue=queue,
            priority=priority,
            enqueued_at=min(enqueued_at, now),
            caller=caller,
            data=dict(data or {}),
            seq=next(self._call_seq),
            state=CallState.PARKED,
        )
        self._arrive(call, config)
        return self._flush()

    def is_parked(self, call_id: str) -> bool:
        """True while ``call_id`` holds a place as a parked caller (not yet reclaimed)."""
        call = self._calls.get(call_id)
        return call is not None and call.state is CallState.PARKED

    def reclaim(self, call_id: str, now: float) -> list[commands.Command]:
        """The parked caller is back on a socket: ``parked`` -> ``queued`` at their original place.
        Their queue's maximum wait counts from their first join time."""
        self._advance(now)
        call = self._calls.get(call_id)
        if call is None:
            raise ValueError(f"reclaim({call_id!r}).call_id: no parked call holds this place")
        call.state = transition(Machine.CALL, call.state, CallEvent.RECLAIM, call_id)
        config = self._queues[call.queue]
        if config.max_wait_seconds is not None:
            self._schedule(max(self._now, call.enqueued_at + config.max_wait_seconds), _Timer.MAX_WAIT, call_id)
        self._index_call(call)
        self._dirty_calls[call_id] = None
        self._route()
        return self._flush()

"""Hold time of bridged ACD calls, from FreeSWITCH's CHANNEL_HOLD / CHANNEL_UNHOLD events.

An agent holds a caller from the API (``uuid_hold``: the event is on the held channel) or with the
hold button of their SIP phone (mod_sofia marks the agent's leg held). Neither comes through
hotline's own code path, so hold is measured from the events, on the control connection (the
caller's outbound socket only sees its own channel with ``myevents``; the agent's leg has no
socket). A leg is matched to its call by id: the caller's channel is the call id, the agent's leg
carries ``hotline_call`` (set when the offer was originated). Spans are timed with the events'
``Event-Date-Timestamp`` (FreeSWITCH's clock, microseconds), so hotline's own latency is not in them;
a hold still on when the call ends ends at hotline's clock plus the offset between the two clocks
seen in the latest event (FreeSWITCH may run on another host).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from engine.acd.hold import HoldLog, HoldTotal
from engine.cti import Hub
from engine.esl.codec import Event
from engine.metrics import Metrics
from engine.transport import InboundClient

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Bridged:
    agent_id: str
    queue: str


class HoldWatch:
    """Keeps :class:`HoldLog` up to date from the control connection; the engine closes each call."""

    def __init__(self, control: InboundClient, hub: Hub, metrics: Metrics) -> None:
        self.hub = hub
        self.metrics = metrics
        self.log = HoldLog()
        self._bridged: dict[str, _Bridged] = {}
        self._offset = 0.0  # FreeSWITCH's clock - hotline's clock, as of the latest event
        control.on_event("CHANNEL_HOLD", lambda e: self._on_event(e, held=True))
        control.on_event("CHANNEL_UNHOLD", lambda e: self._on_event(e, held=False))

    def bridged(self, call_id: str, agent_id: str, queue: str) -> None:
        """A bridge listener (:meth:`AcdShell.on_bridged`): hold counts from here on. Bridged again
        (after a transfer), a hold of the previous agent's leg, now gone, ends here."""
        self._bridged[call_id] = _Bridged(agent_id, queue)
        for leg in self.log.held_legs(call_id) - {call_id}:
            self.log.unheld(call_id, leg, self._freeswitch_now())

    def so_far(self, call_id: str) -> HoldTotal:
        """The call's hold until now (for the part of the call one agent had)."""
        return self.log.so_far(call_id, self._freeswitch_now())

    def close(self, call_id: str) -> HoldTotal:
        """The call is over: its hold total (a hold still open ends now), observed per queue."""
        call = self._bridged.pop(call_id, None)
        total = self.log.close(call_id, self._freeswitch_now())
        if call is not None:
            self.metrics.hold_seconds.labels(call.queue).observe(total.seconds)
        return total

    def _freeswitch_now(self) -> float:
        return time.time() + self._offset

    def _on_event(self, event: Event, *, held: bool) -> None:
        call_id = event.variable("hotline_call") or event.uuid
        call = self._bridged.get(call_id)
        if call is None:
            return
        try:
            at = int(event.get("Event-Date-Timestamp") or "") / 1e6
            self._offset = at - time.time()
        except ValueError:
            log.warning("%s %s: no usable Event-Date-Timestamp; using hotline's clock", event.name, event.uuid)
            at = self._freeswitch_now()
        if held:
            if self.log.held(call_id, event.uuid, at):
                self.metrics.holds.labels(call.queue).inc()
        elif self.log.unheld(call_id, event.uuid, at) is None:
            return
        on_hold = self.log.on_hold(call_id)
        self.hub.publish(call.agent_id, "call_hold", {"call_id": call_id, "on_hold": on_hold, "leg": event.uuid})

"""The dialler's own ESL connection and the per-leg events it waits on.

Outbound legs are originated with ``bgapi`` (the result arrives as BACKGROUND_JOB, matched by Job-UUID) and
controlled with ``sendmsg <uuid>`` executes (completion matched by Application-UUID). Hangups, mod_avmd's
``avmd::beep`` and RECORD_STOP (an AMD audit sample is complete) arrive as events, routed here to the leg that
waits for them: nothing polls.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gevent.event import AsyncResult

from engine.esl.codec import DEFAULT_LIMITS, Event, Limits
from engine.metrics import Metrics
from engine.runtime.orphans import OrphanLegs
from engine.transport import InboundClient
from engine.transport.connection import new_prefix

DIALLER_EVENTS = [
    "BACKGROUND_JOB",
    "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_HANGUP_COMPLETE",
    "RECORD_STOP",
    "CUSTOM",
    "avmd::beep",
]
#: What FreeSWITCH sends this connection of the events above (ESL ``filter``: an event passes when one of
#: these matches): mod_avmd's beeps (only legs hotline started avmd on have them); and, added per client
#: and per leg (:meth:`Legs.register`), this connection's own bgapi results (their Job-UUIDs start with
#: its own prefix) and the events of the legs registered here. With no leg registered (no campaign, no
#: manual dial running) FreeSWITCH sends this connection nothing: before, every leg carrying
#: ``hotline_leg`` (each agent's offer leg too) and every bgapi result of every connection reached it,
#: three events per inbound call, each serialised by FreeSWITCH with its channel's ~200 variables.
DIALLER_FILTERS = [("Event-Subclass", "avmd::beep")]


@dataclass
class Leg:
    """What one outbound leg is waiting for: its hangup (the cause), a machine's beep, its recording's end."""

    uuid: str
    hangup: AsyncResult = field(default_factory=AsyncResult)
    beep: AsyncResult = field(default_factory=AsyncResult)
    recorded: AsyncResult = field(default_factory=AsyncResult)  # RECORD_STOP: the file is complete
    ended: Event | None = None  # the CHANNEL_HANGUP_COMPLETE, once it came


class Legs:
    """Registered legs, fed by the dialler connection's events.

    A leg given up on (:meth:`release`: its originate's result timed out, or the connection was lost)
    is killed by its UUID and checked against FreeSWITCH's channels every ``reconcile_seconds`` for a
    while (:class:`~engine.runtime.orphans.OrphanLegs`): the originate may still complete and park it."""

    def __init__(self, client: InboundClient, metrics: Metrics | None = None) -> None:
        self.client = client
        self._legs: dict[str, Leg] = {}
        self.orphans = OrphanLegs(client, metrics)
        self.reconcile_seconds = 30.0
        client.on_event("CHANNEL_HANGUP_COMPLETE", self._hangup)
        client.on_event("CUSTOM", self._custom)
        client.on_event("RECORD_STOP", self._record_stop)

    @classmethod
    def connect(
        cls, host: str, port: int, password: str, *, metrics: Metrics, timeout: float, limits: Limits = DEFAULT_LIMITS
    ) -> Legs:
        prefix = new_prefix()
        client = InboundClient(
            host, port, password, DIALLER_EVENTS, metrics=metrics, timeout=timeout, backoff=(0.05, 2.0), name="dialler",
            limits=limits, filters=[*DIALLER_FILTERS, ("Job-UUID", f"/^{prefix}/")], job_prefix=prefix,
        )  # fmt: skip
        return cls(client, metrics)

    def register(self, uuid: str) -> Leg:
        """Watch ``uuid`` (before originating it, so no event can be missed): FreeSWITCH sends its events
        here from now on (:meth:`InboundClient.add_filter`: written before the leg's originate, never waited for)."""
        self.client.add_filter("Unique-ID", uuid)
        leg = self._legs[uuid] = Leg(uuid)
        return leg

    def forget(self, uuid: str) -> None:
        if self._legs.pop(uuid, None) is not None:
            self.client.remove_filter("Unique-ID", uuid)

    def release(self, uuid: str, cause: str = "ORIGINATOR_CANCEL") -> None:
        """Give up on a leg whose originate did not answer in time: kill it now and again if it
        appears later (counted in ``hotline_orphan_legs_killed_total``)."""
        self.orphans.release(uuid, cause, "command_timeout")
        self.orphans.watch(lambda: self.reconcile_seconds)

    def execute(self, leg: Leg, app: str, arg: str = "") -> AsyncResult:
        """Start ``app`` on the leg; the result is set with its CHANNEL_EXECUTE_COMPLETE event."""
        return self.client.execute_async(app, arg, uuid_=leg.uuid)

    def _hangup(self, event: Event) -> None:
        leg = self._legs.get(event.get("Unique-ID"))
        if leg is not None:
            leg.ended = event
            leg.hangup.set(event.get("Hangup-Cause") or event.get("variable_hangup_cause") or "NORMAL_CLEARING")

    def _record_stop(self, event: Event) -> None:
        leg = self._legs.get(event.get("Unique-ID"))
        if leg is not None:
            leg.recorded.set(event.get("Record-File-Path"))

    def _custom(self, event: Event) -> None:
        if event.get("Event-Subclass") == "avmd::beep":
            leg = self._legs.get(event.get("Unique-ID"))
            if leg is not None:
                leg.beep.set(event)

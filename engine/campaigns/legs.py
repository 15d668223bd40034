"""The dialler's own ESL connection and the per-leg events it waits on.

Outbound legs are originated with ``bgapi`` (the result arrives as BACKGROUND_JOB, matched by Job-UUID) and
controlled with ``sendmsg <uuid>`` executes (completion matched by Application-UUID). Hangups, mod_avmd's
``avmd::beep`` and RECORD_STOP (an AMD audit sample is complete) arrive as events, routed here to the leg that
waits for them: nothing polls.

The same connection carries the calls whose outbound socket was released while they talk
(:meth:`~engine.transport.outbound.OutboundCall.release_socket`; :meth:`Legs.follow`): their commands go out
as ``sendmsg <uuid>`` and ``api`` here, and their events are handed back to the call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import gevent
from gevent.event import AsyncResult

from engine.esl.codec import DEFAULT_LIMITS, Event, Limits
from engine.metrics import Metrics
from engine.runtime.orphans import OrphanLegs
from engine.transport import Connection, ESLError, InboundClient
from engine.transport.connection import new_prefix
from engine.transport.outbound import SESSION_EVENTS

log = logging.getLogger(__name__)

DIALLER_EVENTS = [
    "BACKGROUND_JOB",
    "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_HANGUP_COMPLETE",
    "RECORD_STOP",
    *(name for name in SESSION_EVENTS if name != "CHANNEL_EXECUTE_COMPLETE"),  # a released call's (follow)
    "CUSTOM",  # last: FreeSWITCH takes every word after CUSTOM as a subclass
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
        self._followed: dict[str, tuple[Callable[[Event], None], Callable[[], None]]] = {}
        client.on_event("CHANNEL_HANGUP_COMPLETE", self._hangup)
        client.on_event("CUSTOM", self._custom)
        client.on_event("RECORD_STOP", self._record_stop)
        client.on_event("*", self._relay)
        client.on_connected(self._recheck_followed)

    @classmethod
    def connect(
        cls,
        host: str,
        port: int,
        password: str,
        *,
        metrics: Metrics,
        timeout: float,
        limits: Limits = DEFAULT_LIMITS,
        name: str = "dialler",
    ) -> Legs:
        """The dialler's connection (``name`` another for a connection that only relays released calls:
        the same subscription, and nothing reaches it until it follows a call)."""
        prefix = new_prefix()
        client = InboundClient(
            host, port, password, DIALLER_EVENTS, metrics=metrics, timeout=timeout, backoff=(0.05, 2.0), name=name,
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

    # ---- calls whose socket was released (engine.transport.outbound.Relay) ----------------------

    def follow(self, uuid: str, deliver: Callable[[Event], None], gone: Callable[[], None], timeout: float) -> bool:
        """Hand channel ``uuid``'s events to ``deliver`` from now on; True once FreeSWITCH sends them here
        (its filter's reply came within ``timeout``), False (nothing followed) otherwise. ``gone`` is called
        when, after a reconnect, FreeSWITCH no longer knows the channel (its hangup may have been missed)."""
        self._followed[uuid] = (deliver, gone)
        if self.client.add_filter("Unique-ID", uuid, wait=timeout):
            return True
        self.unfollow(uuid)
        return False

    @property
    def following(self) -> int:
        """How many released calls this connection carries."""
        return len(self._followed)

    def unfollow(self, uuid: str) -> None:
        if self._followed.pop(uuid, None) is not None:
            self.client.remove_filter("Unique-ID", uuid)

    def connection(self) -> Connection:
        return self.client.connection()

    def _relay(self, event: Event) -> None:
        followed = self._followed.get(event.get("Unique-ID"))
        if followed is not None:
            followed[0](event)

    def recheck(self, uuid: str, grace: float = 1.0) -> None:
        """Ask FreeSWITCH (in the background) whether followed channel ``uuid`` still exists; when it does not,
        its hangup may have been missed: ``gone`` is called, after ``grace`` seconds for the CHANNEL_HANGUP_COMPLETE
        (it carries the cause) to arrive first. ``uuid_exists`` is false from the start of a channel's hangup."""
        gevent.spawn(self._check_one, uuid, grace)

    def _check_one(self, uuid: str, grace: float) -> None:
        followed = self._followed.get(uuid)
        if followed is None:
            return
        try:
            exists = self.client.api("uuid_exists", uuid).strip() == "true"
        except ESLError as exc:
            log.info("dialler: uuid_exists %s: %s", uuid, exc)
            return
        if exists:
            return
        gevent.sleep(grace)
        if self._followed.get(uuid) is followed:  # still followed: no hangup came
            followed[1]()

    def _recheck_followed(self) -> None:
        """After a reconnect: a followed channel FreeSWITCH no longer has hung up while nobody listened."""
        for uuid in list(self._followed):
            self.recheck(uuid)

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

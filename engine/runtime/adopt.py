"""Engine start after a crash: agents come back as they were, live calls are adopted.

Once the control and dialler connections are up, :class:`Adoption` runs once:

1. **Survey** (ESL, may yield): ``show channels as json``, and ``uuid_dump <uuid> json`` of every channel
   for its variables (``bridge_to`` names a bridged channel's partner); the state log's last row per agent
   (database). Parked agent legs of offers the old engine left ringing (``hotline_offer`` set, not
   bridged, ``hotline_engine`` not this run's: the parked callers reclaimed first may already be this
   engine's calls) are killed: that agent's phone is free.
2. **Apply** (no yield in between, so no offer can slip in): each caller bridged to an agent whose
   channel carries the adoption variables (:mod:`engine.runtime.adopt_vars`) is adopted
   (``Acd.adopt_call``: the agent ``on_call``); an agent logged in before whose phone holds any other
   call is ``engaged`` (``Acd.phone_busy``); every other agent gets their logged state back
   (``Acd.restore_agent``: ready, or break with its reason).
3. **Watch**: an adopted call's CHANNEL_HANGUP_COMPLETE (dialler connection, :class:`Legs`) ends it in
   the ACD (wrap-up) and writes its CDR, interaction and segments through the engine's usual
   ``record_call``, exactly once; a busy phone's hangup ends the agent's ``engaged``. Each watch also asks
   ``uuid_exists`` every ``check_seconds`` (a hangup missed while a connection was down).

Calls that ended while no engine ran leave no record: FreeSWITCH forgets a channel's variables at
hang-up and this configuration loads no CDR module (docs/operations.md says what is lost).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

import gevent
import gevent.event
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from engine.acd.commands import Command
from engine.acd.core import Acd
from engine.acd.states import AgentState, IllegalTransition
from engine.campaigns.legs import Leg, Legs
from engine.esl import dialstring
from engine.runtime import adopt_vars
from engine.runtime.acd_shell import AcdShell
from engine.runtime.adopt_vars import LiveCall
from engine.runtime.call_session import CallTrace
from engine.store import agent_states
from engine.store.models import Call, Customer
from engine.transport import ESLError, InboundClient

if TYPE_CHECKING:
    from engine.runtime.hotline import Hotline

log = logging.getLogger(__name__)

USER_CONTACT = re.compile(r"user/([^@/\s]+)(?:@\S*)?")


class Unreadable(ESLError):
    """FreeSWITCH's answer to ``show ... as json`` is not its JSON: retrying would not help."""


class Incomplete(ESLError):
    """Some channel FreeSWITCH listed could not be read (its ``uuid_dump`` timed out or failed): survey again."""


SURVEY_ATTEMPTS = 6  # with the back-off between them, about 6 s before adopting from what could be read


@dataclass
class Survey:
    """What FreeSWITCH and the database said at start-up."""

    live: list[LiveCall] = field(default_factory=list)
    busy: dict[str, list[str]] = field(default_factory=dict)  # agent id -> the channels their phone holds
    logged: dict[str, tuple[str, str]] = field(default_factory=dict)  # agent id -> (state, reason) logged last
    stale_offers: list[str] = field(default_factory=list)  # agent legs of offers nobody answered for
    recorded: set[str] = field(default_factory=set)  # adopted calls that already have a CDR
    counts: dict[str, int] = field(default_factory=dict)  # channels listed, read, unreadable; bridged pairs


@dataclass
class Outcome:
    """What the adoption did (logged, and for tests)."""

    adopted: list[str] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)
    restored: dict[str, str] = field(default_factory=dict)
    killed: list[str] = field(default_factory=list)
    surveyed: dict[str, int] = field(default_factory=dict)  # the survey's counts (for a failure's diagnosis)


class Adoption:
    """Restores agents and adopts live calls once FreeSWITCH is reachable; see the module docstring."""

    def __init__(
        self,
        shell: AcdShell,
        control: InboundClient,
        legs: Legs,
        sessions: Callable[[], Any],
        finish_call: Callable[[CallTrace], None],
        *,
        engaged_wrap_up: float,
        opened: Callable[[LiveCall], None] = lambda _call: None,
        check_seconds: float = 30.0,
    ) -> None:
        """``finish_call`` records an ended call (the engine's ``records.record_call``); ``opened`` is told of
        each adopted call (hold tracking, segments)."""
        self.shell, self.control, self.legs, self.sessions = shell, control, legs, sessions
        self.finish_call, self.opened = finish_call, opened
        self.engaged_wrap_up, self.check_seconds = engaged_wrap_up, check_seconds
        self.done = gevent.event.AsyncResult()  # the Outcome, once applied
        self._greenlets: list[gevent.Greenlet] = []

    @classmethod
    def of(cls, engine: Hotline) -> Adoption:
        """Wired to a :class:`~engine.runtime.hotline.Hotline`'s parts."""

        def opened(call: LiveCall) -> None:
            t = call.trace
            engine.holds.bridged(t.uuid, t.agent_id or "", t.queue or "")
            engine.segments.adopted(t.uuid, t.agent_id or "", t.queue or "", call.bridged_at)

        return cls(
            engine.acd, engine.control, engine.campaigns.legs, engine.sessions, engine.records.record_call,
            engaged_wrap_up=engine.config.agent_calls.wrap_up_seconds, opened=opened,
        )  # fmt: skip

    def start(self, wait: float | None = None) -> Adoption:
        """Run in the background; with ``wait``, return once applied or after ``wait`` seconds."""
        self._greenlets.append(gevent.spawn(self.run))
        if wait is not None:
            self.done.wait(wait)
        return self

    def stop(self) -> None:
        gevent.killall(self._greenlets, block=False)

    # ---- 1. survey ------------------------------------------------------------------------------

    def run(self) -> None:
        """Wait for both connections, survey (retrying on ESL errors), apply, then watch. A survey that could
        not read some channel (FreeSWITCH too slow to answer) is taken again, up to ``SURVEY_ATTEMPTS`` times:
        an unread channel may be a live call, whose agent would otherwise come back ready while on the phone."""
        delay, attempts = 0.2, 0
        while True:
            if self.control.wait_connected(5) and self.legs.client.wait_connected(5):
                attempts += 1
                try:
                    survey = self.survey(complete=attempts < SURVEY_ATTEMPTS)
                    break
                except Unreadable as exc:  # not a FreeSWITCH answer: nothing can be told about any phone
                    log.error("adoption: %s; no call adopted, agents stay logged out until they log in", exc)
                    self.done.set(Outcome())
                    return
                except (ESLError, SQLAlchemyError) as exc:
                    log.warning("adoption: FreeSWITCH's channels or the state log not read (%s); retrying", exc)
            gevent.sleep(delay)  # a back-off before the next attempt, not synchronisation
            delay = min(delay * 2, 5.0)
        self.done.set(self.apply(survey))

    def survey(self, complete: bool = False) -> Survey:
        """What FreeSWITCH and the state log say; with ``complete``, :class:`Incomplete` when a listed channel
        could not be read (not because it had hung up)."""
        acd = self.shell.acd
        agents = {a.id: a for a in acd.agents()}
        with self.sessions() as s:
            rows = agent_states.latest_states(s, list(agents))
            logged = {agent_id: (row.state, row.reason or "") for agent_id, row in rows.items()}
        dumps: dict[str, dict[str, Any]] = {}
        listed = self._rows("channels")
        unread = 0
        for row in listed:
            uuid = str(row.get("uuid", ""))
            try:
                dump = json.loads(self.control.api("uuid_dump", uuid, "json"))
            except ESLError as exc:  # hung up since the listing (or FreeSWITCH too slow to answer)
                unread += 0 if "No such channel" in str(exc) else 1
                continue
            except ValueError:
                dump = None
            if not isinstance(dump, dict):
                log.warning("adoption: uuid_dump %s: not a JSON object; channel skipped", uuid)
                continue
            dumps[uuid] = dump
        if unread and complete:
            raise Incomplete(f"{unread} of {len(listed)} channels not read")
        if unread:
            log.error("adoption: %d channels could not be read; a call among them is not adopted", unread)
        survey = Survey(logged=logged)
        # Bridged pairs from each channel's own bridge_to (set while its bridge lasts, in FreeSWITCH's memory):
        # `show calls` reads the core database, which FreeSWITCH writes behind the calls; a bridge made a
        # moment before a crash was seen missing from it, and its agent's leg taken for a stale offer.
        pairs = {tuple(sorted((a, b))) for a, d in dumps.items() if (b := _var(d, "bridge_to")) in dumps and b != a}
        bridged: set[str] = set()
        for a, b in pairs:
            bridged |= {a, b}
            for caller, leg in ((a, b), (b, a)):
                call = adopt_vars.live_call(dumps.get(caller, {}), leg) if leg in dumps else None
                if call is not None and call.trace.agent_id in agents:
                    survey.live.append(call)
        survey.counts = {"listed": len(listed), "read": len(dumps), "unreadable": unread}
        survey.counts |= {"pairs": len(pairs), "live": len(survey.live)}
        log.info("adoption: surveyed %s", survey.counts)
        with self.sessions() as s:  # a customer removed since the call began: the call is recorded without
            for call in survey.live:  # (its variable names a row the CDR's interaction could not point to)
                if call.trace.customer and s.get(Customer, call.trace.customer["id"]) is None:
                    call.trace.customer = None
                if s.scalar(select(Call.id).where(Call.uuid == call.trace.uuid)) is not None:
                    survey.recorded.add(call.trace.uuid)  # written as the engine before stopped: not twice
        adopted = {c.trace.uuid for c in survey.live} | {c.agent_leg for c in survey.live}
        phones = {ext: agent_id for agent_id, a in agents.items() if (ext := _extension(a.contact))}
        for uuid, dump in dumps.items():
            if uuid in adopted or _var(dump, adopt_vars.CALL_ID) == uuid:
                continue  # an adopted call, or a caller (whose own number is not an agent's phone)
            if (
                _var(dump, "hotline_offer")
                and uuid not in bridged
                and _var(dump, "hotline_engine") != self.shell.run_id
            ):
                survey.stale_offers.append(uuid)
                continue
            owner = _var(dump, adopt_vars.AGENT) or phones.get(_phone_of(dump), "")
            if owner in agents:
                survey.busy.setdefault(owner, []).append(uuid)
        return survey

    def _rows(self, what: str) -> list[dict[str, Any]]:
        """``show <what> as json``'s rows (``{"row_count": 0}`` when there are none)."""
        text = self.control.api("show", what, "as", "json")
        try:
            found = json.loads(text)
        except ValueError:
            raise Unreadable(f"show {what} as json: not JSON: {text[:80]!r}") from None
        if not isinstance(found, dict):
            raise Unreadable(f"show {what} as json: not an object: {text[:80]!r}")
        rows = found.get("rows", [])
        return [r for r in rows if isinstance(r, dict)]

    # ---- 2. apply -------------------------------------------------------------------------------

    def apply(self, survey: Survey) -> Outcome:
        """Kill stale offer legs, then (without yielding) adopt, mark busy phones, restore the rest."""
        outcome = Outcome(surveyed=survey.counts)
        for leg in survey.stale_offers:
            try:
                self.control.api("uuid_kill", leg, "ORIGINATOR_CANCEL")
                outcome.killed.append(leg)
            except ESLError as exc:
                log.info("adoption: stale offer leg %s: %s", leg, exc)
        acd, wall, forced = self.shell.acd, datetime.now(UTC), set()
        for call in survey.live:  # from here to the end nothing yields: the ACD sees it all at once
            t = call.trace
            bridged_ago = max(0.0, (wall - call.bridged_at).total_seconds())
            joined_ago = max(bridged_ago, (wall - call.joined_at).total_seconds())
            try:
                self.shell.apply(partial(_adopt, acd, t, bridged_ago, joined_ago))
            except (KeyError, ValueError, IllegalTransition) as exc:  # queue removed, agent no longer logged out
                log.warning("adoption: call %s to agent %s not adopted: %s", t.uuid, t.agent_id, exc)
                survey.busy.setdefault(t.agent_id or "", []).append(t.uuid)  # still their call: never offered
                forced.add(t.agent_id or "")
                continue
            self.shell.joined(t.uuid, call.agent_leg)
            self.opened(call)
            outcome.adopted.append(t.uuid)
        for agent_id in sorted(survey.busy):
            state, _ = survey.logged.get(agent_id, ("logged_out", ""))
            logged_in = state != AgentState.LOGGED_OUT or agent_id in forced
            if logged_in and acd.agent_state(agent_id) is AgentState.LOGGED_OUT:
                self.shell.apply(lambda now, a=agent_id: acd.phone_busy(a, now))
                outcome.busy.append(agent_id)
        for agent_id, (state, reason) in sorted(survey.logged.items()):
            if acd.agent_state(agent_id) is AgentState.LOGGED_OUT and agent_id not in survey.busy:
                try:
                    self.shell.apply(lambda now, a=agent_id, s=state, r=reason: acd.restore_agent(a, s, r, now))
                except ValueError as exc:  # a state this engine does not know
                    log.warning("adoption: agent %s not restored: %s", agent_id, exc)
                    continue
                outcome.restored[agent_id] = str(acd.agent_state(agent_id))
        log.info(
            "adoption: %d calls adopted, %d agents engaged on a busy phone, %d agents restored, %d offer legs killed",
            len(outcome.adopted), len(outcome.busy), len(outcome.restored), len(outcome.killed),
        )  # fmt: skip
        for call in survey.live:
            if call.trace.uuid in outcome.adopted:
                recorded = call.trace.uuid in survey.recorded
                leg = self._watched(call.trace.uuid)
                self._greenlets.append(gevent.spawn(self._watch_call, call.trace, leg, recorded))
        for agent_id in outcome.busy:
            legs = [self._watched(uuid) for uuid in survey.busy[agent_id]]
            self._greenlets.append(gevent.spawn(self._watch_phone, agent_id, legs))
        return outcome  # every watched channel registered and marked: its hang-up cannot be missed from here

    # ---- 3. watch -------------------------------------------------------------------------------

    def _watched(self, uuid: str) -> Leg:
        """Register ``uuid`` for its hang-up event and mark it as one of hotline's legs: the dialler
        connection hears only those (its ESL filter, campaigns/legs.py)."""
        leg = self.legs.register(uuid)
        with contextlib.suppress(ESLError):
            self.control.api("uuid_setvar", uuid, dialstring.LEG_VARIABLE, "true")
        return leg

    def _watch_call(self, trace: CallTrace, leg: Leg, recorded: bool = False) -> None:
        """Until the adopted caller's channel is gone; then the ACD ends the call and it is recorded, unless it
        was ``recorded`` already (a session of the engine before wrote its CDR as it was stopped)."""
        trace.hangup_cause = self._gone(leg)
        try:
            self.shell.call_ended(trace.uuid)
        except Exception:
            log.exception("adoption: the ACD could not end call %s", trace.uuid)
        if recorded:
            log.info("adoption: call %s ended; its CDR was written by the engine that stopped", trace.uuid)
            return
        self.shell.metrics.calls.labels(trace.outcome).inc()
        try:
            self.finish_call(trace)
        except Exception:
            log.exception("adoption: could not record call %s", trace.uuid)

    def _watch_phone(self, agent_id: str, legs: list[Leg]) -> None:
        for leg in legs:
            self._gone(leg)
        self.shell.apply(lambda now: self.shell.acd.engaged_call_ended(agent_id, self.engaged_wrap_up, now))

    def _gone(self, leg: Leg) -> str:
        """Wait for the watched channel's CHANNEL_HANGUP_COMPLETE (or FreeSWITCH saying it no longer
        exists); its hangup cause ('' when not known)."""
        uuid = leg.uuid
        try:
            while True:
                if not self._exists(uuid):  # also covers a hangup before the registration
                    return str(leg.hangup.get(timeout=1)) if leg.hangup.wait(1) else ""
                if leg.hangup.wait(self.check_seconds) is not None:
                    return str(leg.hangup.get())
        finally:
            self.legs.forget(uuid)

    def _exists(self, uuid: str) -> bool:
        try:
            return self.control.api("uuid_exists", uuid).strip() != "false"
        except ESLError:
            return True  # not known gone: keep waiting for its hangup


def _adopt(acd: Acd, t: CallTrace, bridged_ago: float, joined_ago: float, now: float) -> list[Command]:
    return acd.adopt_call(
        t.uuid, t.queue or "", t.priority, t.agent_id or "",
        enqueued_at=now - joined_ago, bridged_at=now - bridged_ago, now=now, caller=t.caller,
    )  # fmt: skip


def _var(dump: dict[str, Any], name: str) -> str:
    value = dump.get(f"variable_{name}")
    return value if isinstance(value, str) else ""


def _extension(contact: str) -> str:
    """``user/1001`` or ``user/1001@domain`` -> ``1001``; '' for other contacts (no phone to look for)."""
    found = USER_CONTACT.fullmatch(contact or "")
    return found.group(1) if found else ""


def _phone_of(dump: dict[str, Any]) -> str:
    """The extension whose phone a channel is: the user/ endpoint's ``dialed_user``, else the user part of
    its presence id or of a SIP channel's name (``sofia/<profile>/<user>@<host>``); '' when none."""
    if user := _var(dump, "dialed_user"):
        return user
    presence = str(dump.get("Channel-Presence-ID") or _var(dump, "presence_id"))
    if "@" in presence:
        return presence.split("@", 1)[0]
    name = str(dump.get("Channel-Name") or "")
    found = re.fullmatch(r"sofia/[^/]+/([^@/]+)@.*", name)
    return found.group(1) if found else ""

"""The running engine's answers to the HTTP API (what ``engine/api`` calls through ``backend=``): agent and
queue views, agent actions, recordings (on demand and by policy) and finished calls' records.

Every view is asked of the ACD (its one owner) and of the call-control parts at the moment of the request;
nothing here keeps a copy. Writes go through the store (recording rules) or the writer (recordings' rows).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import gevent
import gevent.event
from sqlalchemy.orm import Session, sessionmaker

from engine.acd.recording import recording_reason
from engine.acd.states import IllegalTransition
from engine.metrics import Metrics
from engine.runtime.acd_shell import AcdShell
from engine.runtime.call_control import CallControl
from engine.runtime.call_session import now
from engine.runtime.hold_watch import HoldWatch
from engine.store import calls, recordings, segments
from engine.store.errors import InvalidInput, NotFound
from engine.store.write_records import RecordingWrite
from engine.store.writer import Writer, degraded
from engine.transport import ESLError, InboundClient

log = logging.getLogger(__name__)
RULES_TTL = 10.0  # seconds a read of the recording rules is used for (this engine's own changes: at once)
BREAK_REASON = re.compile(r"[^\x00-\x1f\x7f]{1,64}")  # the API's limit (engine.api.app.BREAK_REASON_MAX)


class Backend:
    """What the API asks of the running engine (``engine.api.app.Backend`` and the ACD routes)."""

    def __init__(
        self,
        acd: AcdShell,
        control: InboundClient,
        holds: HoldWatch,
        sessions: sessionmaker[Session],
        writer: Writer,
        metrics: Metrics,
        *,
        data_dir: Path,
        timezone: Callable[[], str],
        desk: Callable[[], CallControl],
        reload: Callable[[], dict[str, Any]],
    ) -> None:
        """``timezone``: the running ``calls.timezone`` (read at each request); ``desk``: the engine's call
        control (built after this backend, which it calls back); ``reload``: the engine's reload."""
        self.acd, self.control, self.holds, self.sessions = acd, control, holds, sessions
        self.writer, self.metrics, self.data_dir = writer, metrics, data_dir
        self.timezone, self.desk, self._reload = timezone, desk, reload
        self._rules: tuple[float, list[recordings.RuleWindow]] | None = None  # (read at, rules), monotonic

    # ---- views and agent actions ------------------------------------------------------------------

    def agents_view(self) -> list[dict[str, Any]]:
        """Every agent for desktops and wallboards: state, seconds in it (None before their first change), the
        call they are on (``call``: its id, ``caller``, ``queue``, ``on_hold``) and ``consult``: the
        consultation or conference in progress."""
        now, desk = self.acd.clock(), self.desk()
        direct, consults = desk.dials.direct, desk.consults.active
        out = []
        for a in self.acd.acd.agents():
            own, consult = direct.get(a.id), consults.get(a.id)
            held = self.acd.acd.call(a.call_id) if a.call_id else None
            call_id = a.call_id or (own.party_leg if own else None)
            since = round(max(0.0, now - a.state_since), 1) if a.state_since else None
            out.append({
                "id": a.id, "state": str(a.state), "reason": a.reason, "skills": dict(a.skills),
                "calls": a.calls_handled, "seconds_in_state": since, "call": call_id,
                "caller": held.caller if held else (own.number if own else None),
                "queue": held.queue if held else None,
                "on_hold": bool(call_id and self.holds.log.held_legs(call_id)),
                "consult": {
                    "mode": consult.mode, "target": consult.target,
                    "state": "answered" if consult.answered.is_set() else "ringing",
                } if consult else None,
            })  # fmt: skip
        return out

    def queues_view(self) -> list[dict[str, Any]]:
        now = self.acd.clock()
        out = []
        for name in self.acd.acd.queue_names():
            st = self.acd.acd.queue_status(name, now)
            out.append(
                {
                    "queue": name,
                    "waiting": st.waiting,
                    "offering": st.offering,
                    "talking": st.bridged,
                    "longest_wait": round(st.longest_wait, 3),
                    "agents": {str(k): v for k, v in st.agents.items() if v},
                }
            )
        return out

    def agent_action(self, agent_id: str, action: str, reason: str | None) -> dict[str, Any]:
        core = self.acd.acd
        events = {
            "login": lambda t: core.agent_login(agent_id, t),
            "logout": lambda t: core.agent_logout(agent_id, t),
            "ready": lambda t: core.agent_ready(agent_id, t),
            "break": lambda t: core.agent_break(agent_id, reason or "break", t),
            "end_wrap_up": lambda t: core.end_wrap_up(agent_id, t),
        }
        if not core.has_agent(agent_id):
            raise KeyError(f"agent {agent_id}")
        if action == "break" and reason is not None and not BREAK_REASON.fullmatch(reason):
            # checked before the ACD acts: a reason the log cannot store must not leave the agent on break
            raise InvalidInput("reason", reason[:20], "must be 1 to 64 characters, without control characters")
        try:
            self.acd.apply(events[action])
        except IllegalTransition as exc:
            raise ValueError(str(exc)) from None
        return {"agent": agent_id, "state": str(self.acd.agent_state(agent_id))}

    def reload(self) -> dict[str, Any]:
        """``flows reload``: the engine's reload (config file and flows, all or nothing)."""
        return self._reload()

    # ---- recordings ---------------------------------------------------------------------------------

    def record_by_policy(self, call_id: str, agent_id: str, queue: str) -> None:
        """A call just bridged (``AcdShell.on_bridged``, on its own greenlet): record it when the queue's
        sampling or a rule for the agent says so."""
        at = datetime.now(UTC)
        rules = [rule.id for rule in self._current_rules(at) if rule.agent_id == agent_id and rule.starts_at <= at]
        reason = recording_reason(call_id, self.acd.acd.queue_config(queue).record_percent, rules)
        if reason is None:
            return
        try:
            self.start_recording(call_id, reason, agent_id, queue)
        except ESLError as exc:
            log.warning("recording %s: %s", call_id, exc)

    def _current_rules(self, at: datetime) -> list[recordings.RuleWindow]:
        """The recording rules not yet ended, read at most every :data:`RULES_TTL` seconds (a bridge read
        them from the database each time: 6 % of the engine's CPU under load) and again after this engine
        changed them; a rule another process added applies within RULES_TTL. Without the database: none
        (the queue's sampling still applies), asked again at the next bridge."""
        cached = self._rules
        if cached is not None and time.monotonic() - cached[0] < RULES_TTL:
            return [rule for rule in cached[1] if rule.ends_at > at]
        with degraded(self.metrics, "recording_rules"), self.sessions() as s:
            rules = recordings.rule_windows(s, ending_after=at)
            self._rules = (time.monotonic(), rules)
            return rules
        return []

    def add_recording_rule(self, actor: str, agent_id: str, starts: str, ends: str, note: str) -> dict[str, Any]:
        """A rule recording ``agent_id``'s calls between two ISO 8601 times (local to ``calls.timezone``
        when they carry no offset)."""
        zone = ZoneInfo(self.timezone())
        times = []
        for name, value in (("from", starts), ("until", ends)):
            try:
                parsed = datetime.fromisoformat(value)
            except (TypeError, ValueError):
                raise ValueError(f"recording_rule.{name}: {value!r} is not an ISO 8601 time") from None
            times.append(parsed if parsed.tzinfo else parsed.replace(tzinfo=zone))
        if not self.acd.acd.has_agent(agent_id):
            raise KeyError(f"agent {agent_id}")
        with self.sessions.begin() as s:
            added = _rule_view(recordings.add_rule(s, agent_id, times[0], times[1], created_by=actor, note=note))
        self._rules = None
        return added

    def recording_rules(self, agent_id: str | None = None) -> list[dict[str, Any]]:
        with self.sessions() as s:
            return [_rule_view(r) for r in recordings.rules_for(s, agent_id)]

    def remove_recording_rule(self, rule_id: int) -> dict[str, Any]:
        with self.sessions.begin() as s:
            recordings.remove_rule(s, rule_id)
        self._rules = None
        return {"removed": rule_id}

    def start_recording(self, call_id: str, reason: str, agent_id: str | None, queue: str | None) -> str:
        """``uuid_record`` the call to <data_dir>/recordings/YYYY/MM/DD/<call uuid>.wav (FreeSWITCH
        closes it at hangup) and store its metadata; returns the path."""
        path = self.data_dir / "recordings" / f"{datetime.now(UTC):%Y/%m/%d}" / f"{call_id}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.control.api("uuid_record", call_id, "start", str(path))
        row = RecordingWrite(call_uuid=call_id, path=str(path), reason=reason, agent_id=agent_id, queue=queue, at=now())
        written = gevent.event.Event()
        self.writer.submit(row, done=written.set)
        written.wait(timeout=2)  # this greenlet only: a read that follows finds the row, unless the database is down
        return str(path)

    # ---- finished calls -----------------------------------------------------------------------------

    def call_record(self, call_id: str) -> dict[str, Any]:
        """A finished call's CDR and its segments; KeyError when it is not recorded (yet)."""
        with self.sessions() as s:
            try:
                cdr = calls.get_call(s, call_id)
            except NotFound:
                raise KeyError(f"call {call_id}") from None
            return {**calls.view(cdr), "segments": [segments.view(x) for x in segments.segments_of(s, call_id)]}

    def call_recordings(self, call_id: str) -> list[dict[str, Any]]:
        with self.sessions() as s:
            return [
                {
                    "id": r.id,
                    "call": r.call_uuid,
                    "path": r.path,
                    "reason": r.reason,
                    "agent": r.agent_id,
                    "queue": r.queue,
                    "started_at": r.started_at.isoformat(),
                    "purged_at": r.purged_at.isoformat() if r.purged_at else None,
                }
                for r in recordings.recordings_for_call(s, call_id)
            ]

    def recording_file(self, call_id: str, recording_id: int) -> str:
        with self.sessions() as s:
            return recordings.recording_file(s, call_id, recording_id)


def _rule_view(rule: Any) -> dict[str, Any]:
    return {
        "id": rule.id,
        "agent": rule.agent_id,
        "from": rule.starts_at.isoformat(),
        "until": rule.ends_at.isoformat(),
        "by": rule.created_by,
        "note": rule.note,
    }

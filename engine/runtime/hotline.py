"""The running engine: wires config, store, flows, ACD, ESL transport, CTI and HTTP together.

Start-up order: database schema upgraded -> flows validated and loaded -> ACD filled from the
database (queues, agents with skills) -> HTTP up -> outbound socket server listening -> inbound
control connection (with reconnect). A flow or config error stops start-up with its file:line.
"""

from __future__ import annotations

import logging
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import gevent
from gevent.pywsgi import WSGIServer
from sqlalchemy.orm import Session, sessionmaker

from engine import desktop
from engine.acd import commands
from engine.acd.core import Acd
from engine.acd.model import Agent
from engine.acd.recording import recording_reason
from engine.acd.states import IllegalTransition
from engine.api import acd as acd_api
from engine.api import amd_audit as amd_audit_api
from engine.api import callbacks as callbacks_api
from engine.api import crm as crm_api
from engine.api import make_app, openapi
from engine.api import outbound as outbound_api
from engine.api.auth import Credentials
from engine.campaigns.legs import Legs
from engine.campaigns.manager import Campaigns
from engine.campaigns.runner import AttemptRecorded
from engine.config import Config, check_flows, load_config
from engine.cti import Hub
from engine.dialler.outcomes import CallOutcome
from engine.ivr.flow import Flow
from engine.ivr.loader import load_flows
from engine.metrics import Metrics
from engine.runtime.acd_shell import AcdShell
from engine.runtime.admission import Admission
from engine.runtime.adopt import Adoption
from engine.runtime.agent_metrics import AgentMetrics
from engine.runtime.call_control import CallControl
from engine.runtime.call_session import CallSession, CallTrace, SessionServices, now
from engine.runtime.callbacks import Callbacks
from engine.runtime.consults import Consults
from engine.runtime.drain import Drain
from engine.runtime.ended_calls import EndedCalls
from engine.runtime.hold_watch import HoldWatch
from engine.runtime.ivr_executor import IvrExecutor
from engine.runtime.manual_dial import ManualDials
from engine.runtime.reclaim import PARKED, Reclaimer
from engine.runtime.retention import DailyPurge
from engine.runtime.segments import CallSegments
from engine.speech.tts import EspeakFileTts
from engine.store import (
    agents,
    calls,
    crm_customers,
    queue_settings,
    queues,
    recordings,
    segments,
    skills,
    tickets,
)
from engine.store.db import make_engine, session_factory
from engine.store.errors import InvalidInput, NotFound
from engine.store.migrate import upgrade
from engine.store.write_records import AgentStateWrite, CallWrite, RecordingWrite, SurveyWrite
from engine.store.writer import Writer, degraded
from engine.transport import ESLError, InboundClient, OutboundCall, OutboundServer

log = logging.getLogger(__name__)
BREAK_REASON = re.compile(r"[^\x00-\x1f\x7f]{1,64}")  # the API's limit (engine.api.app.BREAK_REASON_MAX)

# Only what the control connection acts on: bgapi results, and holds (of the caller's leg or of the agent's
# leg, which has no socket: runtime/hold_watch.py). Calls get their own events on their sockets.
CONTROL_EVENTS = ["BACKGROUND_JOB", "CHANNEL_HOLD", "CHANNEL_UNHOLD"]


@dataclass(frozen=True)
class Ports:
    socket: int
    http: int


class Hotline:
    """One engine instance. ``start()`` returns the bound ports; ``stop()`` undoes it."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Callable[[], float] = time.monotonic,
        flow_clock: Callable[[], datetime] | None = None,
    ) -> None:
        """``clock`` drives ACD timers (the demo runs it faster); ``flow_clock`` is the local time
        IVR flows see for opening hours (default: now in ``calls.timezone``)."""
        self.config = config
        zone = ZoneInfo(config.calls.timezone)
        self.flow_clock = flow_clock or (lambda: datetime.now(zone))
        self.metrics = Metrics()
        self.hub = Hub()
        self.db = make_engine(config.db_url())
        self.sessions: sessionmaker[Session] = session_factory(self.db)
        self.writer = Writer(self.sessions, config.data_dir, self.metrics)  # hot-path writes, off the loop
        self.flows: dict[str, Flow] = {}
        self.call_recorded: list[Callable[[CallTrace], None]] = []
        self.control = InboundClient(
            config.freeswitch.host,
            config.freeswitch.port,
            config.freeswitch.password,
            CONTROL_EVENTS,
            metrics=self.metrics,
            timeout=config.freeswitch.command_timeout,
            backoff=(0.05, config.freeswitch.reconnect_max_seconds),
            limits=config.freeswitch.esl_limits(),
        )
        self.acd = AcdShell(
            Acd(),
            self.control,
            self.hub,
            self.metrics,
            clock=clock,
            bridge_confirm_seconds=config.freeswitch.bridge_confirm_seconds,
        )
        self.acd.on_agent_state(self._persist_agent_state)
        self.acd.on_bridged(lambda *bridged: gevent.spawn(self._record_by_policy, *bridged))  # DB + ESL: not inline
        self.holds = HoldWatch(self.control, self.hub, self.metrics)
        self.acd.on_bridged(self.holds.bridged)
        self.segments = CallSegments(self.holds.so_far, self.metrics)
        self.acd.on_bridged(self.segments.bridged)
        self.acd.on_bridge_seen(self.segments.caller_bridged)
        AgentMetrics(self.acd, self.metrics, window_seconds=config.metrics.occupancy_window_seconds)
        cont = config.continuity
        self.reclaimer = Reclaimer(
            self.acd, self.control, scan_seconds=cont.reclaim_scan_seconds, settle_seconds=cont.reclaim_settle_seconds
        )
        self.tts = EspeakFileTts(config.data_dir / "tts")
        self.outbound = OutboundServer(
            config.socket.host,
            config.socket.port,
            self._handle_call,
            metrics=self.metrics,
            timeout=config.freeswitch.command_timeout,
            peers=config.freeswitch.outbound_peers,
            handshake_timeout=config.freeswitch.outbound_handshake_seconds,
            limits=config.freeswitch.esl_limits(),
            admit=Admission.of(self),
        )
        self.outbound.admit.lag.listeners.append(self.metrics.loop_lag.observe)  # one lag monitor
        fs = config.freeswitch
        legs = Legs.connect(
            fs.host, fs.port, fs.password, metrics=self.metrics, timeout=fs.command_timeout, limits=fs.esl_limits()
        )
        self.campaigns = Campaigns(self.sessions, self.acd, self.metrics, legs, data_dir=config.data_dir)
        self.campaigns.services.attempt_recorded.append(self._record_outbound)
        self.callbacks = Callbacks(
            self.acd, self.sessions, legs, self.tts, self.metrics, self._customer_pop,
            dial=config.calls.callback_dial, caller_id=config.calls.callback_caller_id,
        )  # fmt: skip
        dials = ManualDials(
            self.acd, legs, self.sessions, self.metrics, config.agent_calls,
            region=config.calls.region, customer_pop=self._customer_pop,
        )  # fmt: skip
        consults = Consults(
            self.acd, self.control, legs, self.metrics, config.agent_calls,
            dnc_source=dials.dnc_source, segments=self.segments,
        )  # fmt: skip
        self.call_control = CallControl(
            self.acd, self.control, self.sessions, self.metrics, dials=dials, consults=consults,
            start_recording=self.start_recording, agent_action=self.agent_action, segments=self.segments,
        )  # fmt: skip
        self.retention = DailyPurge(
            self.sessions, config.data_dir, config.retention, zone, self.metrics,
            live=lambda: {*self.acd.calls, *(d.party_leg for d in self.call_control.dials.direct.values())},
        )  # fmt: skip
        self.adoption = Adoption.of(self)
        self.ended_calls = EndedCalls.of(self)
        app = make_app(
            self,
            self.hub,
            self.metrics,
            Credentials(config.tokens, self.sessions),
            modules=[
                crm_api.module(self, region=config.calls.region, settings=config.crm),
                openapi.register,
                desktop.register,
                lambda router: outbound_api.register(router, self.campaigns, self.sessions),
                lambda router: amd_audit_api.register(router, self.campaigns, self.sessions),
                partial(acd_api.register, backend=self, calls=self.call_control),
                partial(callbacks_api.register, backend=self.callbacks),
            ],
        )
        self.http = WSGIServer((config.http.host, config.http.port), app, log=None, error_log=log)

    # ---- lifecycle --------------------------------------------------------------------------

    def start(self, *, wait_for_freeswitch: float | None = None) -> Ports:
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        upgrade(self.config.db_url())
        self.writer.start()  # replays what an earlier run journalled during an outage, in order
        self.flows = self._load_flows()
        self._load_acd()
        self.http.start()
        socket_port = self.outbound.start()
        self.acd.start()
        self.control.start(wait=wait_for_freeswitch)
        self.reclaimer.start()  # parked callers first: new calls wait for it (_handle_call)
        self.campaigns.start(wait_for_freeswitch)
        self.adoption.start(wait_for_freeswitch)  # agents as they were, live calls adopted (runtime/adopt.py)
        self.ended_calls.start()  # calls that ended while no engine ran (runtime/ended_calls.py)
        self.retention.start()
        log.info("hotline up: socket %s, http %s", socket_port, self.http.server_port)
        return Ports(socket_port, self.http.server_port)

    def stop(self) -> None:
        self.ended_calls.stop()
        self.adoption.stop()
        self.reclaimer.stop()
        self.retention.stop()
        self.campaigns.stop()
        self.outbound.stop()
        self.acd.stop()
        self.control.stop()
        self.http.stop(timeout=1)
        self.writer.stop()
        self.db.dispose()

    def serve_forever(self) -> None:
        """Run until SIGINT/SIGTERM; SIGHUP reloads flows."""
        stop = gevent.event.Event()
        gevent.signal_handler(signal.SIGTERM, stop.set)
        gevent.signal_handler(signal.SIGINT, stop.set)
        gevent.signal_handler(signal.SIGHUP, lambda: gevent.spawn(self.reload))
        stop.wait()
        self.drain()
        self.stop()

    def drain(self) -> dict[str, int]:
        """A clean stop's first half (engine/runtime/drain.py): no new calls, waiting callers handed on,
        talking calls finished up to ``continuity.drain_limit_seconds``; then call :meth:`stop`."""
        self.reclaimer.stop()
        cont = self.config.continuity
        return Drain(
            self.outbound.stop_accepting, lambda: list(self.acd.calls.values()), lambda: list(self.outbound.active),
            park_seconds=cont.drain_park_seconds, limit_seconds=cont.drain_limit_seconds,
        ).run()  # fmt: skip

    def _load_flows(self, config: Config | None = None) -> dict[str, Flow]:
        config = config or self.config
        with self.sessions() as s:
            skill_names = {skill.name for skill in skills.list_skills(s)}
            queue_names = {q.name for q in queues.list_queues(s)}
        flows = load_flows(config.flows_dir, sounds_dir=config.sounds_dir, skills=skill_names, queues=queue_names)
        check_flows(config, flows)  # calls.numbers and the default flow name flows that exist
        return flows

    def _load_acd(self) -> None:
        """Configure every queue from the database (settings: store/queue_settings.py) and add new agents."""
        now = self.acd.clock()
        with self.sessions() as s:
            configs = queue_settings.load_queue_configs(s)
            self.acd.apply(lambda t: self.acd.acd.configure_queues(configs, t))
            for row in agents.list_agents(s):
                if not self.acd.acd.has_agent(row.id):
                    levels = {link.skill.name: link.level for link in row.skills}
                    self.acd.acd.add_agent(Agent(id=row.id, skills=levels, contact=row.contact))
        self.acd.apply(self.acd.acd.tick)
        self.callbacks.reload()
        log.info("ACD loaded at %.3f", now)

    # ---- one call ---------------------------------------------------------------------------

    def _handle_call(self, call: OutboundCall) -> None:
        if call.variable(PARKED) != "true":  # new calls wait for the start's reclaim (a bounded wait)
            self.reclaimer.settled.wait(self.config.continuity.reclaim_settle_seconds + 1)
        services = SessionServices(
            flows=lambda: self.flows,
            flow_clock=self.flow_clock,
            flow_for=lambda number: self.config.calls.numbers.get(number, self.config.calls.default_flow),
            executor=lambda c: IvrExecutor(
                c,
                self.tts,
                self._lookup,
                self.config.data_dir / "recordings",
                self.config.speech,
                self.config.fax_dir.resolve(),
                self.config.calls.fax_dial,
                self.metrics,
            ),
            customer_pop=self._customer_pop,
            acd=self.acd,
            metrics=self.metrics,
            record_call=self._record_call,
            record_survey=self._record_survey,
            request_callback=self.callbacks.request,
            music_on_hold=self.config.calls.music_on_hold,
            post_call_flow=self.config.calls.post_call_flow,
            hold_chunk_seconds=self.config.continuity.hold_chunk_seconds,
        )
        CallSession(call, services).run()

    def _customer_pop(self, number: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """The caller's customer and history, complete: each desktop feed shows it through its viewer.
        An empty pop while the database is unavailable (counted): the call goes on without."""
        with degraded(self.metrics, "customer_pop"), self.sessions() as s:
            return crm_customers.customer_pop(
                s, number, region=self.config.calls.region, history=self.config.calls.history_in_pop
            )
        return None, []

    def _lookup(self, kind: str, key: str) -> dict:
        """IVR lookups: ``customer`` and ``open_tickets`` by caller number, ``ticket_status`` by ticket number."""
        if kind == "customer":
            customer, _ = self._customer_pop(key)
            return customer or {}
        if kind == "open_tickets":
            customer, _ = self._customer_pop(key)
            found = customer["open_tickets"] if customer else []
            return {"count": len(found), "latest": found[0]} if found else {}
        if kind == "ticket_status" and key.isdigit():
            with degraded(self.metrics, "ticket_status"), self.sessions() as s:
                try:
                    ticket = tickets.get_ticket(s, int(key))
                except NotFound:
                    return {}
                status = str(ticket.state).replace("_", " ")
                return {"status": status, "updated": ticket.updated_at.date().isoformat(), "title": ticket.title}
        return {}

    def _record_call(self, trace: CallTrace) -> None:
        hold, ended = self.holds.close(trace.uuid), trace.ended_at or now()
        parts = self.segments.finish(trace.uuid, ended, hold)
        record = calls.CallRecord(
            uuid=trace.uuid,
            caller_number=trace.caller,
            destination=trace.destination,
            created_at=trace.created_at,
            ended_at=ended,
            outcome=trace.outcome,
            flow=trace.flow,
            queue=trace.queue,
            agent_id=trace.agent_id,
            priority=trace.priority,
            answered_at=trace.answered_at,
            queued_at=trace.queued_at,
            offered_at=trace.offered_at,
            bridged_at=trace.bridged_at,
            hangup_cause=trace.hangup_cause or None,
            hold_seconds=hold.seconds,
            hold_count=hold.count,
        )
        write = CallWrite(
            record=record, interaction=trace.kind, customer_id=trace.customer["id"] if trace.customer else None,
            ivr_path=list(trace.ivr_path), recording_path=trace.recording, segments=list(parts or ()),
        )  # fmt: skip
        self.writer.submit(write, done=lambda: self._call_written(trace))  # off the loop, in order

    def _call_written(self, trace: CallTrace) -> None:
        """The call's CDR is in the database: tell the listeners (tickets from callbacks, tests, benches)."""
        for listener in self.call_recorded:
            listener(trace)

    def _record_outbound(self, attempt: AttemptRecorded) -> None:
        """A campaign call a person answered is a call like any other: a CDR and an outbound
        interaction in the customer's history (machines, busy and no answer stay in the attempt log)."""
        result, ended = attempt.result, now()
        parts = self.segments.finish(attempt.leg, ended, self.holds.so_far(attempt.leg))
        if result.outcome not in (CallOutcome.LIVE, CallOutcome.ABANDONED):
            return
        answered = datetime.fromtimestamp(result.answered_at, UTC) if result.answered_at else ended
        record = calls.CallRecord(
            uuid=attempt.leg,
            caller_number=f"campaign:{attempt.campaign}",
            destination=attempt.number,
            created_at=min(answered, ended),
            ended_at=ended,
            outcome="answered" if result.outcome is CallOutcome.LIVE else "abandoned",
            agent_id=result.agent_id,
            answered_at=min(answered, ended),
            talk_seconds=result.talk_seconds,
            hangup_cause=result.hangup_cause,
        )
        write = CallWrite(
            record=record, interaction="outbound", customer_number=attempt.number, region=self.config.calls.region,
            notes=f"campaign {attempt.campaign}", segments=list(parts or ()),
        )  # fmt: skip
        self.writer.submit(write)

    def _record_survey(self, call_uuid: str, agent_id: str | None, question: str, score: int) -> None:
        self.writer.submit(
            SurveyWrite(call_uuid=call_uuid, agent_id=agent_id, question=question, score=score, at=datetime.now(UTC))
        )
        self.metrics.surveys.labels(str(score)).inc()

    def _persist_agent_state(self, change: commands.AgentStateChanged) -> None:
        """Queue the change stamped with when the ACD made it, not when the writer commits it (later:
        off the loop, or after a database outage)."""
        at = datetime.now(UTC) - timedelta(seconds=max(0.0, self.acd.clock() - change.at))
        write = AgentStateWrite(agent_id=change.agent_id, state=str(change.new), reason=change.reason or None, at=at)
        self.writer.submit(write)

    # ---- the API's backend ------------------------------------------------------------------

    def agents_view(self) -> list[dict[str, Any]]:
        """Every agent for desktops and wallboards: state, seconds in it (None before their first change), the
        call they are on (``call``: its id, ``caller``, ``queue``, ``on_hold``) and ``consult``: the
        consultation or conference in progress."""
        now, direct, consults = self.acd.clock(), self.call_control.dials.direct, self.call_control.consults.active
        out = []
        for a in self.acd.acd.agents():
            own, info, consult = direct.get(a.id), self.acd.calls.get(a.call_id or ""), consults.get(a.id)
            call_id = a.call_id or (own.party_leg if own else None)
            since = round(max(0.0, now - a.state_since), 1) if a.state_since else None
            out.append({
                "id": a.id, "state": str(a.state), "reason": a.reason, "skills": dict(a.skills),
                "calls": a.calls_handled, "seconds_in_state": since, "call": call_id,
                "caller": info.caller if info else (own.number if own else None),
                "queue": info.queue if info else None, "on_hold": bool(call_id and self.holds.log.held_legs(call_id)),
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
        if not self.acd.acd.has_agent(agent_id):
            raise KeyError(f"agent {agent_id}")
        if action == "break" and reason is not None and not BREAK_REASON.fullmatch(reason):
            # checked before the ACD acts: a reason the log cannot store must not leave the agent on break
            raise InvalidInput("reason", reason[:20], "must be 1 to 64 characters, without control characters")
        try:
            self.acd.apply(events[action])
        except IllegalTransition as exc:
            raise ValueError(str(exc)) from None
        return {"agent": agent_id, "state": str(self.acd.agent_state(agent_id))}

    def _record_by_policy(self, call_id: str, agent_id: str, queue: str) -> None:
        rules: list[int] = []  # without the database, the queue's sampling still applies
        with degraded(self.metrics, "recording_rules"), self.sessions() as s:
            rules = [r.id for r in recordings.rules_for(s, agent_id, active_at=datetime.now(UTC))]
        reason = recording_reason(call_id, self.acd.acd.queue_config(queue).record_percent, rules)
        if reason is None:
            return
        try:
            self.start_recording(call_id, reason, agent_id, queue)
        except ESLError as exc:
            log.warning("recording %s: %s", call_id, exc)

    def add_recording_rule(self, actor: str, agent_id: str, starts: str, ends: str, note: str) -> dict[str, Any]:
        """A rule recording ``agent_id``'s calls between two ISO 8601 times (local to ``calls.timezone``
        when they carry no offset)."""
        zone = ZoneInfo(self.config.calls.timezone)
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
            return _rule_view(recordings.add_rule(s, agent_id, times[0], times[1], created_by=actor, note=note))

    def recording_rules(self, agent_id: str | None = None) -> list[dict[str, Any]]:
        with self.sessions() as s:
            return [_rule_view(r) for r in recordings.rules_for(s, agent_id)]

    def remove_recording_rule(self, rule_id: int) -> dict[str, Any]:
        with self.sessions.begin() as s:
            recordings.remove_rule(s, rule_id)
        return {"removed": rule_id}

    def start_recording(self, call_id: str, reason: str, agent_id: str | None, queue: str | None) -> str:
        """``uuid_record`` the call to <data_dir>/recordings/YYYY/MM/DD/<call uuid>.wav (FreeSWITCH
        closes it at hangup) and store its metadata; returns the path."""
        path = self.config.data_dir / "recordings" / f"{datetime.now(UTC):%Y/%m/%d}" / f"{call_id}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.control.api("uuid_record", call_id, "start", str(path))
        row = RecordingWrite(call_uuid=call_id, path=str(path), reason=reason, agent_id=agent_id, queue=queue, at=now())
        written = gevent.event.Event()
        self.writer.submit(row, done=written.set)
        written.wait(timeout=2)  # this greenlet only: a read that follows finds the row, unless the database is down
        return str(path)

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

    def reload(self) -> dict[str, Any]:
        """SIGHUP and ``flows reload``: re-read the config file and the flows, all or nothing, then add
        new agents/queues from the database. Live from the file: ``calls.numbers``, ``calls.default_flow``
        and ``log_level``; any other changed setting is named in the log (and the answer) as needing a
        restart, and keeps its running value."""
        config, restart = self._reread_config()
        flows = self._load_flows(config)  # the new numbers name flows that exist, before anything changes
        self.config, self.flows = config, flows
        logging.getLogger().setLevel(config.log_level)
        self._load_acd()
        if restart:
            log.warning("reload: changed settings that need a restart to apply: %s", ", ".join(restart))
        log.info("reloaded %d flows", len(flows))
        return {"flows": sorted(flows), **({"restart_needed": restart} if restart else {})}

    def _reread_config(self) -> tuple[Config, list[str]]:
        """The running config with the file's live settings; the other top-level settings that changed."""
        path = self.config._source[0]
        if path is None:
            return self.config, []
        new = load_config(path)  # ConfigError names the file, line and key; nothing changes then
        live_calls = {"numbers": new.calls.numbers, "default_flow": new.calls.default_flow}
        config = self.config.model_copy(
            update={"calls": self.config.calls.model_copy(update=live_calls), "log_level": new.log_level}
        )
        config._source = new._source
        old, fresh = self.config.model_dump(), new.model_dump()
        restart = [key for key in fresh if key not in ("calls", "log_level") and fresh[key] != old[key]]
        calls_old, calls_new = old["calls"], fresh["calls"]
        restart += [f"calls.{k}" for k in calls_new if k not in live_calls and calls_new[k] != calls_old[k]]
        return config, restart


def _rule_view(rule: Any) -> dict[str, Any]:
    return {
        "id": rule.id,
        "agent": rule.agent_id,
        "from": rule.starts_at.isoformat(),
        "until": rule.ends_at.isoformat(),
        "by": rule.created_by,
        "note": rule.note,
    }

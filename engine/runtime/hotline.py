"""The running engine: wires config, store, flows, ACD, ESL transport, CTI and HTTP together.

Wiring only: ``Hotline`` builds the parts, connects their listeners and runs the lifecycle (start, stop,
drain, reload). The work is in the parts: the ACD shell (``acd``), the API backend (``backend``:
runtime/backend.py), the call-record builder (``records``: runtime/records.py), the CRM lookups of calls
(``lookups``: runtime/lookups.py), call control, campaigns, callbacks, reclaim and adoption. It keeps no
state of calls or agents (docs/architecture.md, "The runtime: who owns what state").

Start-up order: database schema upgraded -> flows validated and loaded -> ACD filled from the
database (queues, agents with skills) -> HTTP up -> outbound socket server listening -> inbound
control connection (with reconnect). A flow or config error stops start-up with its file:line.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import gevent
from gevent.pywsgi import WSGIServer
from sqlalchemy.orm import Session, sessionmaker

from engine import desktop
from engine.acd.core import Acd
from engine.acd.model import Agent
from engine.api import acd as acd_api
from engine.api import amd_audit as amd_audit_api
from engine.api import callbacks as callbacks_api
from engine.api import crm as crm_api
from engine.api import make_app, openapi
from engine.api import outbound as outbound_api
from engine.api.auth import Credentials
from engine.campaigns.legs import Legs
from engine.campaigns.manager import Campaigns
from engine.config import Config, check_flows, load_config
from engine.cti import Hub
from engine.ivr.flow import Flow
from engine.ivr.loader import load_flows
from engine.metrics import Metrics
from engine.runtime.acd_shell import AcdShell
from engine.runtime.admission import Admission
from engine.runtime.adopt import Adoption
from engine.runtime.agent_metrics import AgentMetrics
from engine.runtime.backend import Backend
from engine.runtime.call_control import CallControl
from engine.runtime.call_session import CallSession, SessionServices
from engine.runtime.callbacks import Callbacks
from engine.runtime.consults import Consults
from engine.runtime.drain import Drain
from engine.runtime.ended_calls import EndedCalls
from engine.runtime.hold_watch import HoldWatch
from engine.runtime.ivr_executor import IvrExecutor
from engine.runtime.lookups import Lookups
from engine.runtime.manual_dial import ManualDials
from engine.runtime.reclaim import PARKED, Reclaimer
from engine.runtime.records import CallRecords
from engine.runtime.retention import DailyPurge
from engine.runtime.segments import CallSegments
from engine.speech.tts import EspeakFileTts
from engine.store import agents, queue_settings, queues, skills
from engine.store.db import make_engine, session_factory
from engine.store.migrate import upgrade
from engine.store.writer import Writer
from engine.transport import InboundClient, OutboundCall, OutboundServer

log = logging.getLogger(__name__)

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
        self.writer = Writer(  # hot-path writes, off the loop
            self.sessions, config.data_dir, self.metrics, linger=config.continuity.write_linger_seconds
        )
        self.flows: dict[str, Flow] = {}
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
        self.holds = HoldWatch(self.control, self.hub, self.metrics)
        self.segments = CallSegments(self.holds.so_far, self.metrics)
        self.records = CallRecords(
            self.writer, self.holds, self.segments, self.metrics, region=config.calls.region, acd_clock=self.acd.clock
        )
        self.call_recorded = self.records.call_recorded  # listeners told once a call's CDR is written
        self.lookups = Lookups(
            self.sessions, self.metrics, region=config.calls.region, history=config.calls.history_in_pop
        )
        self.backend = Backend(
            self.acd, self.control, self.holds, self.sessions, self.writer, self.metrics,
            data_dir=config.data_dir, timezone=lambda: self.config.calls.timezone, desk=lambda: self.call_control,
            reload=lambda: self.reload(),
        )  # fmt: skip
        self.acd.on_agent_state(self.records.record_agent_state)
        self.acd.on_bridged(lambda *bridged: gevent.spawn(self.backend.record_by_policy, *bridged))  # DB + ESL
        self.acd.on_bridged(self.holds.bridged)
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
        connect = partial(
            Legs.connect, fs.host, fs.port, fs.password, metrics=self.metrics, timeout=fs.command_timeout,
            limits=fs.esl_limits(),
        )  # fmt: skip
        legs = self.legs = connect()
        # talking callers' commands and events, spread by call over freeswitch.relay_connections connections
        self.relays = [legs] + [connect(name=f"relay{n}") for n in range(1, fs.relay_connections)]
        self.campaigns = Campaigns(self.sessions, self.acd, self.metrics, legs, data_dir=config.data_dir)
        self.campaigns.services.attempt_recorded.append(self.records.record_outbound)  # the runner's record path
        self.callbacks = Callbacks(
            self.acd, self.sessions, legs, self.tts, self.metrics, self.lookups.customer_pop,
            dial=config.calls.callback_dial, caller_id=config.calls.callback_caller_id,
        )  # fmt: skip
        dials = ManualDials(
            self.acd, legs, self.sessions, self.metrics, config.agent_calls,
            region=config.calls.region, customer_pop=self.lookups.customer_pop,
        )  # fmt: skip
        consults = Consults(
            self.acd, self.control, legs, self.metrics, config.agent_calls,
            dnc_source=dials.dnc_source, segments=self.segments,
        )  # fmt: skip
        self.call_control = CallControl(
            self.acd, self.control, self.sessions, self.metrics, dials=dials, consults=consults,
            start_recording=self.backend.start_recording, agent_action=self.backend.agent_action,
            segments=self.segments,
        )  # fmt: skip
        self.retention = DailyPurge(
            self.sessions, config.data_dir, config.retention, zone, self.metrics,
            live=lambda: {*self.acd.acd.call_ids(), *(d.party_leg for d in self.call_control.dials.direct.values())},
        )  # fmt: skip
        self.adoption = Adoption.of(self)
        self.ended_calls = EndedCalls.of(self)
        app = make_app(
            self.backend,
            self.hub,
            self.metrics,
            Credentials(config.tokens, self.sessions),
            modules=[
                crm_api.module(self, region=config.calls.region, settings=config.crm),
                openapi.register,
                desktop.register,
                lambda router: outbound_api.register(router, self.campaigns, self.sessions),
                lambda router: amd_audit_api.register(router, self.campaigns, self.sessions),
                partial(acd_api.register, backend=self.backend, calls=self.call_control),
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
        for relay in self.relays[1:]:
            relay.client.start()
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
        for relay in self.relays[1:]:
            relay.client.stop()
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
            self.outbound.stop_accepting, lambda: list(self.acd.inboxes.values()), lambda: list(self.outbound.active),
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
                self.lookups.lookup,
                self.config.data_dir / "recordings",
                self.config.speech,
                self.config.fax_dir.resolve(),
                self.config.calls.fax_dial,
                self.metrics,
            ),
            customer_pop=self.lookups.customer_pop,
            acd=self.acd,
            metrics=self.metrics,
            record_call=self.records.record_call,
            record_survey=self.records.record_survey,
            request_callback=self.callbacks.request,
            music_on_hold=self.config.calls.music_on_hold,
            post_call_flow=self.config.calls.post_call_flow,
            hold_chunk_seconds=self.config.continuity.hold_chunk_seconds,
            relay=self._relay,
        )
        CallSession(call, services).run()

    def _relay(self) -> Legs | None:
        """The connection a caller's socket is released to: the one following the fewest calls (ties: the
        dialler's first, then in order); None when sockets are kept (``freeswitch.release_socket_in_talk``)."""
        if not self.config.freeswitch.release_socket_in_talk:
            return None
        return min(self.relays, key=lambda relay: relay.following)

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

"""A running campaign: a tick loop that feeds the pure pacing policy the live state, picks contacts that
compliance allows now, dials them, and records every outcome (database, statistics, abandon budget, metrics).

Each tick: agents of the campaign's queue (from the ACD) -> ``CampaignStats``; calls in flight and the abandon
window -> ``PacingState``; ``policy.decide`` -> n; n due contacts that pass ``may_dial`` are dialled and the
decision is logged with its inputs and the attempts it placed. Times given to the pure core are POSIX seconds.
"""

from __future__ import annotations

import logging
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import gevent
from sqlalchemy.orm import Session, sessionmaker

from engine.acd.states import AgentState as AcdState
from engine.campaigns.call import Dial, DialResult, OutboundDial
from engine.campaigns.legs import Legs
from engine.campaigns.preview import PreviewDial
from engine.dialler import amd_audit
from engine.dialler import campaign as rules
from engine.dialler.budget import WINDOW_SECONDS, AbandonBudget, BudgetStatus
from engine.dialler.compliance import (
    ComplianceState,
    DncList,
    may_dial,
    next_window_open,
    originate_timeout,
    record_outcome,
)
from engine.dialler.outcomes import CallOutcome
from engine.dialler.pacing import CallInFlight, DialDecision, PacingState
from engine.dialler.stats import AgentState, CampaignStats
from engine.dialler.window import RollingTally
from engine.metrics import Metrics
from engine.runtime.acd_shell import AcdShell
from engine.runtime.supervise import supervised
from engine.store import amd_audit as samples
from engine.store import outbound as store
from engine.store.outbound import INTERNAL_DNC, AttemptEnd
from engine.store.outbound_models import CampaignContact

log = logging.getLogger(__name__)

ACD_TO_DIALLER = {
    AcdState.READY: AgentState.READY,
    AcdState.RESERVED: AgentState.ON_CALL,
    AcdState.ON_CALL: AgentState.ON_CALL,
    AcdState.ENGAGED: AgentState.ON_CALL,
    AcdState.WRAP_UP: AgentState.WRAP,
    AcdState.BREAK: AgentState.PAUSED,
    AcdState.LOGGED_OUT: AgentState.OFFLINE,
}
RING_SECONDS = 25.0  # requested ring time; compliance raises it to the campaign's minimum when lower
PREVIEW_SKIP_DEFER = timedelta(hours=1)  # a contact an agent skipped comes back to preview after this
CLOSING_RULES = (rules.AmdRule.HANG_UP, rules.AmdRule.LEAVE_MESSAGE)


@dataclass
class RunnerServices:
    sessions: sessionmaker[Session]
    legs: Legs
    acd: AcdShell
    metrics: Metrics
    wall: Callable[[], float]
    tick_seconds: float = 0.2
    connect_within: float = 2.0
    attempt_recorded: list[Callable[[AttemptRecorded], None]] = field(default_factory=list)
    data_dir: Path = Path("var")  # AMD audit samples go to <data_dir>/amd_samples/<campaign>/YYYY/MM/DD/<leg>.wav


@dataclass(frozen=True)
class AttemptRecorded:
    """Told to listeners once an attempt's outcome is stored."""

    campaign: str
    leg: str
    contact_id: int
    number: str
    result: DialResult


def _dt(posix: float) -> datetime:
    return datetime.fromtimestamp(posix, UTC)


def _dnc_for(number: str, source: str | None) -> DncList:
    """The DNC list as far as one number is concerned (the store answers which list holds it)."""
    if source is None:
        return DncList()
    if source == INTERNAL_DNC:
        return DncList(internal={number})
    return DncList(imported={source: frozenset({number})})


class CampaignRunner:
    """Dials one campaign while it is running; ``stop()`` ends the loop (calls in flight finish)."""

    def __init__(self, name: str, services: RunnerServices) -> None:
        self.name = name
        self.s = services
        with services.sessions() as s:
            row = store.get_campaign(s, name)
            self.campaign_id, self.queue, self.caller_id = row.id, row.queue, row.caller_id
            self.gateway, self.dispositions = row.gateway, list(row.dispositions)
            self.abandon_message, self.machine_message = row.abandon_message, row.machine_message
            self.amd_rule = rules.AmdRule(row.amd_rule)
            self.policy = rules.policy_for(row.dial_mode, row.dial_params)
            self.trunk = rules.trunk_limits(row.dial_params)
            self.compliance = rules.compliance_settings(row.compliance)
            budget_settings = rules.budget_settings(row.compliance)
            self.amd_override = rules.amd_calibration(row.dial_params)
            self.amd_sampling = amd_audit.audit_settings(row.compliance)
        self.stats = CampaignStats()
        self.budget = AbandonBudget(budget_settings)
        self.ring_timeout = originate_timeout(RING_SECONDS, self.compliance)
        self.dials: dict[str, tuple[int, OutboundDial | PreviewDial]] = {}  # leg -> (contact id, dial)
        self.reserved: dict[int, str] = {}  # preview: contact id -> the agent looking at it
        self.recent_dials: deque[float] = deque(maxlen=max(1, self.trunk.calls_per_second))
        self.last_decision: dict[str, object] = {}
        self._loop: gevent.Greenlet | None = None
        self._restore_budget()

    def _restore_budget(self) -> None:
        """Rebuild the abandon window and the AMD audit counts from stored attempts, so they survive restarts."""
        now = self.s.wall()
        since = _dt(now - WINDOW_SECONDS[self.budget.settings.rule])
        with self.s.sessions() as s:
            events = store.live_answers_since(s, self.campaign_id, since)
            verdicts = samples.verdicts_since(s, self.campaign_id, since)
            self.amd_labels = samples.label_counts(s, self.campaign_id)
        self.amd_verdicts = RollingTally(self.budget.span)  # AMD's verdicts in the abandon window, flagged: machine
        for at, machine in verdicts:
            self.amd_verdicts.add(at.timestamp(), machine)
        for at, abandoned in events:
            self.budget.record_live(at.timestamp(), abandoned)
        self.refresh_amd_estimate()

    # ---- AMD audit ----------------------------------------------------------------------------------

    def reload_amd_labels(self) -> None:
        """A supervisor labelled a sample: re-read the label counts and update the false-positive bound."""
        with self.s.sessions() as s:
            self.amd_labels = samples.label_counts(s, self.campaign_id)
        self.refresh_amd_estimate()

    def refresh_amd_estimate(self) -> amd_audit.FalsePositiveEstimate:
        """Recompute AMD's false-positive figure and give its bound to pacing (through the statistics)."""
        verdicts, machine = self.amd_verdicts.counts(self.s.wall())
        human = verdicts - machine
        if self.amd_override is not None:
            self.amd_estimate = amd_audit.override(*self.amd_override, machine, human)
        else:
            self.amd_estimate = amd_audit.estimate(*self.amd_labels, machine, human, self.amd_sampling)
        self.stats.amd_false_positive_bound = self.amd_estimate.per_person_upper
        self.s.metrics.campaign_amd_fp_rate.labels(self.name).set(self.amd_estimate.rate)
        self.s.metrics.campaign_amd_fp_upper.labels(self.name).set(self.amd_estimate.upper)
        return self.amd_estimate

    def _with_sample(self, dial: Dial) -> Dial:
        """The dial with a recording path when it falls in the campaign's AMD audit sample."""
        if not amd_audit.sampled(dial.leg, self.amd_sampling.sample_percent):
            return dial
        folder = self.s.data_dir / "amd_samples" / self.name / f"{_dt(self.s.wall()):%Y/%m/%d}"
        folder.mkdir(parents=True, exist_ok=True)
        path = str((folder / f"{dial.leg}.wav").resolve())
        return replace(dial, sample_to=path, sample_seconds=self.amd_sampling.record_seconds)

    # ---- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        self._loop = supervised(f"campaign:{self.name}", self._run, self.s.metrics)

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.kill()
            self._loop = None

    @property
    def running(self) -> bool:
        return self._loop is not None and not self._loop.dead

    def _run(self) -> None:
        while True:
            try:
                self.tick()
            except Exception:  # a bad tick (database hiccup) must not end the campaign; the next tick retries
                log.exception("campaign %s: tick failed", self.name)
            gevent.sleep(self.s.tick_seconds)  # a timer, not synchronisation: pacing runs every tick

    # ---- one tick ---------------------------------------------------------------------------------

    def _update_agents(self, now: float) -> None:
        core = self.s.acd.acd
        if not core.has_queue(self.queue):
            return
        for agent_id, acd_state in core.member_states(self.queue).items():  # its skill at its level
            state = ACD_TO_DIALLER[acd_state]
            known = self.stats.agents.get(agent_id)
            if known is None or known.state is not state:
                self.stats.set_agent(agent_id, state, now)

    def pacing_state(self, now: float) -> PacingState:
        flying = [d.progress for _, d in self.dials.values() if d.progress.connected_at is None]
        return PacingState(
            stats=self.stats,
            budget=self.budget,
            trunk=self.trunk,
            calls=[CallInFlight(p.dialled_at, p.answered_at) for p in flying],
            connected=len(self.dials) - len(flying),
            recent_dials=list(self.recent_dials),
        )

    def tick(self) -> int:
        """One pacing decision; returns the number of calls placed."""
        now = self.s.wall()
        self._update_agents(now)
        state = self.pacing_state(now)
        decision = self.policy.decide(state, now)
        self.last_decision = {"policy": decision.policy, "n_calls": decision.n_calls, "reason": decision.reason}
        placed = self._place(decision, now) if decision.n_calls > 0 else 0
        self._export(now, len(state.calls) + placed)
        return placed

    def _place(self, decision: DialDecision, now: float) -> int:
        when = _dt(now)
        exclude = {contact_id for contact_id, _ in self.dials.values()} | set(self.reserved)
        dials: list[Dial] = []
        with self.s.sessions.begin() as s:
            candidates = store.due_contacts(s, self.campaign_id, when, decision.n_calls * 4 + 10, exclude)
            listed = store.dnc_sources(s, [c.number for c in candidates])
            picked = []
            for row in candidates:  # all candidates are checked so DNC hits and closed windows are set aside now
                contact = store.contact_of(row)
                dnc = _dnc_for(row.number, listed.get(row.number))
                verdict = may_dial(
                    contact, when, ComplianceState(self.compliance, dnc, {row.number: store.history_of(row)})
                )
                if verdict.allowed:
                    if len(picked) < decision.n_calls:
                        picked.append(row)
                elif verdict.reason.startswith("outside the calling window"):
                    row.next_attempt_at = next_window_open(contact, when, self.compliance.window)
                elif row.number in listed:
                    row.closed = verdict.reason  # never dialled: DNC wins over everything
            if not picked:
                return 0
            decision.inputs["n_placed"] = len(picked)
            decision.inputs["amd_false_positive"] = self.amd_estimate.view()
            decision_id = store.log_decision(s, self.campaign_id, when, decision)
            for row in picked:
                dials.append(self._with_sample(self._dial_for(row)))
                store.start_attempt(s, dials[-1].leg, row, when, decision_id)
        for dial in dials:
            leg = self.s.legs.register(dial.leg)
            call = OutboundDial(dial, leg, self.s.legs, self.s.acd, self.s.wall)
            self.dials[dial.leg] = (dial.contact_id, call)
            self.recent_dials.append(now)
            gevent.spawn(self._dial, call)
        return len(dials)

    def _dial_for(self, row: CampaignContact) -> Dial:
        pop = {"campaign": self.name, "contact_id": row.id, "number": row.number, "contact": dict(row.data)}
        return Dial(
            leg=str(uuid.uuid4()),
            campaign=self.name,
            contact_id=row.id,
            number=row.number,
            caller_id=self.caller_id,
            gateway=self.gateway,
            queue=self.queue,
            ring_timeout=self.ring_timeout,
            amd_rule=self.amd_rule,
            abandon_message=self.abandon_message,
            machine_message=self.machine_message,
            pop=pop,
            connect_within=self.s.connect_within,
        )

    # ---- preview: the agent sees the record and decides --------------------------------------------

    def preview_next(self, agent_id: str) -> dict[str, object] | None:
        """Reserve the next contact that may be dialled now for ``agent_id`` and pop it on the agent's feed."""
        now = self.s.wall()
        when = _dt(now)
        self.reserved = {cid: a for cid, a in self.reserved.items() if a != agent_id}
        exclude = {contact_id for contact_id, _ in self.dials.values()} | set(self.reserved)
        with self.s.sessions() as s:
            candidates = store.due_contacts(s, self.campaign_id, when, 50, exclude)
            listed = store.dnc_sources(s, [c.number for c in candidates])
            for row in candidates:
                state = ComplianceState(
                    self.compliance, _dnc_for(row.number, listed.get(row.number)), {row.number: store.history_of(row)}
                )
                if may_dial(store.contact_of(row), when, state, agent_reserved=True).allowed:
                    self.reserved[row.id] = agent_id
                    pop = {**self._dial_for(row).pop, "phase": "preview"}
                    self.s.acd.hub.publish(agent_id, "screen_pop", pop, sticky=True)
                    return pop
        return None

    def preview_decide(self, agent_id: str, contact_id: int, action: str) -> dict[str, object]:
        """The agent's decision on the record it holds: ``skip`` releases it, ``dial`` calls it for this agent."""
        if self.reserved.get(contact_id) != agent_id:
            raise ValueError(f"contact_id: {contact_id} is not reserved for agent {agent_id}; fetch a preview first")
        del self.reserved[contact_id]
        if action == "skip":
            with self.s.sessions.begin() as s:
                row = store.get_contact(s, self.campaign_id, contact_id)
                row.next_attempt_at = _dt(self.s.wall()) + PREVIEW_SKIP_DEFER
                return {
                    "contact_id": contact_id,
                    "action": "skipped",
                    "next_attempt_at": row.next_attempt_at.isoformat(),
                }
        agent = self.s.acd.acd.agent(agent_id)
        now = self.s.wall()
        with self.s.sessions.begin() as s:
            row = store.get_contact(s, self.campaign_id, contact_id)
            dial = self._dial_for(row)
            inputs = {"now": now, "agent": agent_id, "contact_id": contact_id}
            decision = DialDecision(1, "preview", inputs, f"agent {agent_id} chose to dial the contact")
            store.start_attempt(s, dial.leg, row, _dt(now), store.log_decision(s, self.campaign_id, _dt(now), decision))
        call = PreviewDial(dial, agent_id, agent.contact, self.s.legs, self.s.acd, self.s.wall)
        self.dials[dial.leg] = (contact_id, call)
        gevent.spawn(self._dial, call)
        return {"contact_id": contact_id, "action": "dialling", "leg": dial.leg}

    def window(self, now: float) -> BudgetStatus:
        """The abandon window as pacing sees it (with the AMD false-positive bound: audited, prior or override)."""
        return self.budget.status(now, self.stats.amd_false_positive_upper())

    def _export(self, now: float, in_flight: int) -> None:
        m, name = self.s.metrics, self.name
        free = self.stats.count_agents(AgentState.READY)
        m.campaign_in_flight.labels(name).set(in_flight)
        m.campaign_dial_level.labels(name).set(in_flight / free if free else float(in_flight))
        status = self.window(now)
        m.campaign_budget_left.labels(name).set(status.remaining_to_cap)
        m.campaign_abandon_rate.labels(name).set(status.rate)

    # ---- one call ---------------------------------------------------------------------------------

    def _dial(self, call: OutboundDial | PreviewDial) -> None:
        try:
            result = call.run()
        except Exception:
            log.exception("campaign %s: dial %s crashed", self.name, call.dial.leg)
            result = DialResult(CallOutcome.FAILED, hangup_cause="INTERNAL_ERROR")
        try:
            self.record(call, result)
        finally:
            self.dials.pop(call.dial.leg, None)
            self.s.legs.forget(call.dial.leg)

    def record(self, call: OutboundDial | PreviewDial, result: DialResult) -> None:
        """Store the attempt's outcome, move the contact on by the retry rules, feed statistics and budget."""
        now = self.s.wall()
        when = _dt(now)
        outcome = result.outcome
        with self.s.sessions.begin() as s:
            row = store.get_contact(s, self.campaign_id, call.dial.contact_id)
            state = ComplianceState(self.compliance, DncList(), {row.number: store.history_of(row)})
            history = record_outcome(store.contact_of(row), outcome, when, state)
            if outcome is CallOutcome.MACHINE and self.amd_rule in CLOSING_RULES:
                history.closed = f"machine: {self.amd_rule.value}"
            store.store_history(row, history)
            store.finish_attempt(
                s,
                call.dial.leg,
                AttemptEnd(
                    outcome=outcome.value,
                    ended_at=when,
                    answered_at=_dt(result.answered_at) if result.answered_at else None,
                    hangup_cause=result.hangup_cause,
                    amd_result=result.amd_result,
                    agent_id=result.agent_id,
                    abandoned=result.abandoned,
                ),
            )
            if result.sample_path is not None:
                samples.add_sample(s, self.campaign_id, call.dial.contact_id, call.dial.leg, result.sample_path)
        rang_until = result.answered_at or (now if outcome in (CallOutcome.BUSY, CallOutcome.FAILED) else None)
        ring = rang_until - call.progress.dialled_at if rang_until else None
        self.stats.record_call(outcome, now, ring)
        m = self.s.metrics
        m.campaign_dials.labels(self.name, outcome.value).inc()
        if result.amd_result:
            m.campaign_amd.labels(self.name, result.amd_result).inc()
            if result.amd_seconds is not None:
                self.stats.record_amd_decision(result.amd_seconds)
            self.amd_verdicts.add(now, result.amd_result == samples.MACHINE_VERDICT)
            if result.sample_path is not None:
                m.campaign_amd_samples.labels(self.name).inc()
            self.refresh_amd_estimate()
        if outcome in (CallOutcome.LIVE, CallOutcome.ABANDONED):
            self.budget.record_live(result.answered_at or now, abandoned=result.abandoned)
            m.campaign_live.labels(self.name).inc()
            if result.abandoned:
                m.campaign_abandons.labels(self.name).inc()
        if outcome is CallOutcome.LIVE and result.talk_seconds is not None:
            wrap = self.s.acd.acd.queue_config(self.queue).wrap_up_seconds
            self.stats.record_handle(result.talk_seconds, wrap)
        log.info("campaign %s: %s -> %s %s", self.name, call.dial.number, outcome.value, " ".join(result.notes))
        recorded = AttemptRecorded(self.name, call.dial.leg, call.dial.contact_id, call.dial.number, result)
        for listener in self.s.attempt_recorded:
            listener(recorded)

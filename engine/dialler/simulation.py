"""A seeded discrete-event simulation of an outbound shift that drives any pacing policy.

Calls ring up to the ring timeout; people or machines answer; AMD decides after its decision time (hanging up
on a few people: false positives, passing a few machines: false negatives); a person who finds no free agent
within the tolerance is abandoned. The k-th dialled call and each agent's j-th handle draw the same random
numbers under every policy (common random numbers), so policies are compared on the same traffic.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from engine.dialler.budget import AbandonBudget, BudgetSettings
from engine.dialler.compliance import ComplianceSettings, originate_timeout
from engine.dialler.outcomes import CallOutcome
from engine.dialler.pacing import CallInFlight, DialDecision, PacingState, Policy, TrunkLimits
from engine.dialler.stats import AgentState, CampaignStats

SHIFT_START = 1714986000.0  # 2024-05-06 09:00 UTC


@dataclass(frozen=True)
class Traffic:
    """The campaign's true (hidden from pacing) behaviour."""

    p_live: float = 0.22
    p_machine: float = 0.17
    p_busy: float = 0.08
    p_failed: float = 0.03
    ring_median_s: float = 7.0
    ring_sigma: float = 0.5
    ring_timeout_s: float = 20.0
    talk_mean_s: float = 120.0
    talk_sigma: float = 0.6
    wrap_mean_s: float = 20.0
    wrap_sigma: float = 0.4
    amd_mean_s: float = 2.5
    amd_false_positive: float = 0.004
    amd_false_negative: float = 0.05
    machine_handle_s: float = 8.0
    answer_tolerance_s: float = 2.0
    audit_share: float = 0.1
    calibration_audits: int = 3000


def traffic_for_seed(seed: int) -> Traffic:
    """Traffic drawn from the benchmark's ranges: 15-30 % live, 15-20 % machine, talk means 90-180 s."""
    rng = random.Random(seed)
    return Traffic(
        p_live=rng.uniform(0.15, 0.30),
        p_machine=rng.uniform(0.15, 0.20),
        talk_mean_s=rng.uniform(90.0, 180.0),
        wrap_mean_s=rng.uniform(10.0, 30.0),
        amd_mean_s=rng.uniform(1.5, 3.5),
        amd_false_positive=rng.uniform(0.002, 0.006),
    )


@runtime_checkable
class Foresighted(Protocol):
    """A policy the simulation tells, when an agent takes a call, when that agent will be ready again (a bound
    for benchmarks: no real dialler knows this)."""

    def foresee(self, agent_id: str, free_at: float) -> None: ...


@dataclass(frozen=True)
class Shift:
    agents: int
    hours: float
    seed: int
    traffic: Traffic | None = None  # None: traffic_for_seed(seed)
    trunk: TrunkLimits | None = None  # None: 6 lines per agent, 20 calls per second
    budget: BudgetSettings = field(default_factory=BudgetSettings)
    tick_s: float = 1.0


@dataclass
class ShiftResult:
    policy: str
    agents: int
    seed: int
    hours: float
    dials: int = 0
    live: int = 0  # people who answered (connected, abandoned or hung up on by AMD)
    connects: int = 0
    abandons: int = 0  # no agent within the tolerance
    amd_false_positives: int = 0
    busy_seconds: float = 0.0  # talk + wrap of live calls inside the shift
    max_channels: int = 0
    max_dials_per_second: int = 0
    max_lines_per_agent: float = 0.0
    decisions: int = 0
    window_rate: float = 0.0  # the budget's view at the end: detected abandons + upper-bound AMD estimate

    @property
    def abandon_rate(self) -> float:
        """Abandons plus AMD false positives over people who answered (the regulator's rate)."""
        return (self.abandons + self.amd_false_positives) / self.live if self.live else 0.0

    @property
    def occupancy(self) -> float:
        return self.busy_seconds / (self.agents * self.hours * 3600.0)

    @property
    def connects_per_agent_hour(self) -> float:
        return self.connects / (self.agents * self.hours)


@dataclass
class _Call:
    index: int
    dialled_at: float
    kind: CallOutcome  # the truth: LIVE, MACHINE, NO_ANSWER, BUSY or FAILED
    ends_at: float  # answer time for LIVE/MACHINE, end time otherwise
    amd_s: float
    amd_wrong: bool
    flight: CallInFlight


_TICK, _ANSWER, _AMD, _END, _GIVE_UP, _TALK_END, _WRAP_END = range(7)


class _Sim:
    def __init__(self, policy: Policy, shift: Shift, on_decision: Callable[[DialDecision], None] | None) -> None:
        self.policy = policy
        self.shift = shift
        self.traffic = t = shift.traffic or traffic_for_seed(shift.seed)
        self.trunk = shift.trunk or TrunkLimits(max_channels=6 * shift.agents, calls_per_second=20, lines_per_agent=6)
        self.on_decision = on_decision
        self.foresight = policy if isinstance(policy, Foresighted) else None
        self.call_rng = random.Random(shift.seed * 7919 + 1)
        self.agent_rngs = [random.Random(shift.seed * 7919 + 2 + i) for i in range(shift.agents)]
        self.stats = CampaignStats()
        self.budget = AbandonBudget(shift.budget)
        audit = random.Random(shift.seed * 7919)
        for _ in range(t.calibration_audits):
            self.stats.record_amd_audit(True, audit.random() < t.amd_false_positive)
        self.audit_rng = audit
        self.flights: dict[int, CallInFlight] = {}
        self.state = PacingState(self.stats, self.budget, self.trunk)
        self.recent: deque[float] = deque()
        self.free: deque[int] = deque(range(shift.agents))
        self.waiting: deque[tuple[float, _Call]] = deque()
        self.connected = 0
        self.events: list[tuple[float, int, int, object]] = []
        self.seq = 0
        self.start = SHIFT_START
        self.end = SHIFT_START + shift.hours * 3600.0
        self.no_answer_s = originate_timeout(t.ring_timeout_s, ComplianceSettings())
        self.result = ShiftResult(policy.name, shift.agents, shift.seed, shift.hours)
        for agent in range(shift.agents):
            self.stats.set_agent(str(agent), AgentState.READY, self.start)

    def push(self, when: float, kind: int, payload: object) -> None:
        self.seq += 1
        heapq.heappush(self.events, (when, self.seq, kind, payload))

    def run(self) -> ShiftResult:
        self.push(self.start, _TICK, None)
        handlers = {
            _TICK: self.tick,
            _ANSWER: self.answer,
            _AMD: self.amd,
            _END: self.ring_end,
            _GIVE_UP: self.give_up,
            _TALK_END: self.talk_end,
            _WRAP_END: self.wrap_end,
        }
        when = self.start
        while self.events:
            when, _, kind, payload = heapq.heappop(self.events)
            handlers[kind](when, payload)
        self.result.window_rate = self.budget.status(when, self.stats.amd_false_positive_upper()).rate
        return self.result

    def tick(self, now: float, _: object) -> None:
        while self.recent and now - self.recent[0] >= 1.0:
            self.recent.popleft()
        state = self.state
        state.calls = list(self.flights.values())
        state.connected = self.connected
        state.recent_dials = self.recent
        decision = self.policy.decide(state, now)
        self.result.decisions += 1
        if self.on_decision is not None:
            self.on_decision(decision)
        for _ in range(decision.n_calls):
            self.dial(now)
        r = self.result
        r.max_channels = max(r.max_channels, len(self.flights) + self.connected)
        r.max_dials_per_second = max(r.max_dials_per_second, len(self.recent))
        active = self.stats.count_agents(AgentState.READY, AgentState.ON_CALL, AgentState.WRAP)
        if active:
            r.max_lines_per_agent = max(r.max_lines_per_agent, len(self.flights) / active)
        if now + self.shift.tick_s < self.end:
            self.push(now + self.shift.tick_s, _TICK, None)

    def dial(self, now: float) -> None:
        t, rng = self.traffic, self.call_rng
        u, ring, side, amd_u, wrong_u = (
            rng.random(),
            rng.lognormvariate(0, t.ring_sigma),
            rng.random(),
            rng.random(),
            rng.random(),
        )
        ring = min(t.ring_median_s * ring, t.ring_timeout_s - 0.5)
        amd_s = t.amd_mean_s * (0.5 + amd_u)
        if u < t.p_live:
            kind, ends, wrong = CallOutcome.LIVE, now + ring, wrong_u < t.amd_false_positive
        elif u < t.p_live + t.p_machine:
            kind, ends, wrong = CallOutcome.MACHINE, now + ring, wrong_u < t.amd_false_negative
        elif u < t.p_live + t.p_machine + t.p_busy:
            kind, ends, wrong = CallOutcome.BUSY, now + 1.0 + 3.0 * side, False
        elif u < t.p_live + t.p_machine + t.p_busy + t.p_failed:
            kind, ends, wrong = CallOutcome.FAILED, now + 0.5 + 1.5 * side, False
        else:
            kind, ends, wrong = CallOutcome.NO_ANSWER, now + self.no_answer_s, False
        self.result.dials += 1
        call = _Call(self.result.dials, now, kind, ends, amd_s, wrong, CallInFlight(now))
        self.flights[call.index] = call.flight
        self.recent.append(now)
        answered = kind in (CallOutcome.LIVE, CallOutcome.MACHINE)
        self.push(ends, _ANSWER if answered else _END, call)

    def ring_end(self, now: float, call: _Call) -> None:
        del self.flights[call.index]
        self.stats.record_call(call.kind, now, now - call.dialled_at)

    def answer(self, now: float, call: _Call) -> None:
        self.flights[call.index] = CallInFlight(call.dialled_at, now)
        self.push(now + call.amd_s, _AMD, call)

    def amd(self, now: float, call: _Call) -> None:
        del self.flights[call.index]
        self.stats.record_amd_decision(call.amd_s)
        live = call.kind is CallOutcome.LIVE
        says_machine = live == call.amd_wrong
        if self.audit_rng.random() < self.traffic.audit_share:
            self.stats.record_amd_audit(live, says_machine)
        ring_s = call.ends_at - call.dialled_at
        if says_machine:
            self.stats.record_call(CallOutcome.MACHINE, now, ring_s)
            if live:
                self.result.live += 1
                self.result.amd_false_positives += 1
            return
        if self.free:
            self.connect(now, call, self.free.popleft())
        else:
            self.waiting.append((now + self.traffic.answer_tolerance_s, call))
            self.push(now + self.traffic.answer_tolerance_s, _GIVE_UP, call)

    def give_up(self, now: float, call: _Call) -> None:
        for i, (_, waiting) in enumerate(self.waiting):
            if waiting is call:
                del self.waiting[i]
                break
        else:
            return
        self.budget.record_live(now, abandoned=True)
        self.stats.record_call(CallOutcome.ABANDONED, now, call.ends_at - call.dialled_at)
        if call.kind is CallOutcome.LIVE:
            self.result.live += 1
            self.result.abandons += 1

    def connect(self, now: float, call: _Call, agent: int) -> None:
        t = self.traffic
        self.connected += 1
        self.stats.set_agent(str(agent), AgentState.ON_CALL, now)
        ring_s = call.ends_at - call.dialled_at
        if call.kind is CallOutcome.MACHINE:
            self.stats.record_call(CallOutcome.MACHINE, now, ring_s)
            self.push(now + t.machine_handle_s, _WRAP_END, (agent, None))
            self._foresee(agent, now + t.machine_handle_s)
            return
        self.budget.record_live(now)
        self.stats.record_call(CallOutcome.LIVE, now, ring_s)
        rng = self.agent_rngs[agent]
        talk = _lognormal(rng, t.talk_mean_s, t.talk_sigma)
        wrap = _lognormal(rng, t.wrap_mean_s, t.wrap_sigma)
        self.result.live += 1
        self.result.connects += 1
        self.result.busy_seconds += max(0.0, min(talk + wrap, self.end - now))
        self.push(now + talk, _TALK_END, (agent, talk, wrap))
        self._foresee(agent, now + talk + wrap)

    def _foresee(self, agent: int, free_at: float) -> None:
        if self.foresight is not None:
            self.foresight.foresee(str(agent), free_at)

    def talk_end(self, now: float, payload: tuple[int, float, float]) -> None:
        agent, talk, wrap = payload
        self.connected -= 1
        self.stats.set_agent(str(agent), AgentState.WRAP, now)
        self.push(now + wrap, _WRAP_END, (agent, (talk, wrap)))

    def wrap_end(self, now: float, payload: tuple[int, tuple[float, float] | None]) -> None:
        agent, handle = payload
        if handle is None:
            self.connected -= 1
        else:
            self.stats.record_handle(*handle)
        self.stats.set_agent(str(agent), AgentState.READY, now)
        while self.waiting:
            deadline, call = self.waiting.popleft()
            if deadline >= now:
                self.connect(now, call, agent)
                return
        self.free.append(agent)


def _lognormal(rng: random.Random, mean: float, sigma: float) -> float:
    return rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma)


def simulate(policy: Policy, shift: Shift, on_decision: Callable[[DialDecision], None] | None = None) -> ShiftResult:
    """Run one shift under ``policy``; ``on_decision`` sees every decision (e.g. to audit its inputs)."""
    return _Sim(policy, shift, on_decision).run()

"""Pacing policies: how many calls to place now. Every policy answers ``decide(state, now)`` with the count
and every input it used, so an operator can show a regulator why each call was placed.

Policies: preview, progressive, fixed ratio, a VICIdial-style adaptive level (for comparison) and hotline's
predictive guard. Trunk limits (channels, calls per second, lines per agent) cap every policy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.dialler.budget import AbandonBudget, BudgetStatus
from engine.dialler.outcomes import CallOutcome
from engine.dialler.stats import AgentState, CampaignStats

BUSY_STATES = (AgentState.ON_CALL, AgentState.WRAP)
ACTIVE_STATES = (AgentState.READY, AgentState.ON_CALL, AgentState.WRAP)


@dataclass(frozen=True)
class TrunkLimits:
    max_channels: int = 100
    calls_per_second: int = 10
    lines_per_agent: float = 5.0


@dataclass(frozen=True)
class CallInFlight:
    """A dialled call not yet connected or finished; ``answered_at`` set while AMD listens."""

    dialled_at: float
    answered_at: float | None = None


@dataclass
class PacingState:
    """What a policy may look at: statistics (with agents), the abandon window, the trunk and calls in flight."""

    stats: CampaignStats
    budget: AbandonBudget
    trunk: TrunkLimits
    calls: Sequence[CallInFlight] = ()
    connected: int = 0  # channels held by calls talking to agents
    recent_dials: Sequence[float] = ()  # dial times, at least those of the last second


@dataclass(frozen=True)
class DialDecision:
    n_calls: int
    policy: str
    inputs: dict[str, Any]
    reason: str


class Policy(Protocol):
    name: str

    def decide(self, state: PacingState, now: float) -> DialDecision: ...


def base_inputs(state: PacingState, now: float) -> dict[str, Any]:
    """The inputs every policy logs: agents, calls, the trunk's three limits, ``n_max`` and ``n_progressive``."""
    stats = state.stats
    free = stats.count_agents(AgentState.READY)
    active = stats.count_agents(*ACTIVE_STATES)
    in_flight = len(state.calls)
    dials_last_second = sum(1 for t in state.recent_dials if now - t < 1.0)
    limit_channels = state.trunk.max_channels - in_flight - state.connected
    limit_cps = state.trunk.calls_per_second - dials_last_second
    limit_lines = math.floor(state.trunk.lines_per_agent * active) - in_flight
    return {
        "now": now,
        "agents_free": free,
        "agents_active": active,
        "calls_in_flight": in_flight,
        "calls_connected": state.connected,
        "dials_last_second": dials_last_second,
        "limit_channels": limit_channels,
        "limit_cps": limit_cps,
        "limit_lines_per_agent": limit_lines,
        "n_max": max(0, min(limit_channels, limit_cps, limit_lines)),
        "n_progressive": max(0, free - in_flight),
    }


def capped_decision(policy: str, wanted: int, inputs: dict[str, Any], reason: str) -> DialDecision:
    """The decision to dial ``wanted`` calls, capped by the trunk limits (the cap noted in the reason)."""
    n = max(0, min(wanted, inputs["n_max"]))
    inputs["n_wanted"] = wanted
    if n < wanted:
        reason += f"; trunk limits cap {wanted} to {n}"
    return DialDecision(n, policy, inputs, reason)


class Preview:
    """No automatic dials: the agent requests each call."""

    name = "preview"

    def decide(self, state: PacingState, now: float) -> DialDecision:
        return capped_decision(self.name, 0, base_inputs(state, now), "preview: agents request their calls")


class Progressive:
    """One call per free agent not already covered by a call in flight; no call without an agent for it."""

    name = "progressive"

    def decide(self, state: PacingState, now: float) -> DialDecision:
        inputs = base_inputs(state, now)
        n = inputs["n_progressive"]
        return capped_decision(
            self.name, n, inputs, f"{inputs['agents_free']} free agents, {len(state.calls)} in flight"
        )


@dataclass
class FixedRatio:
    """``ratio`` calls in flight per free agent."""

    ratio: float
    name: str = "fixed_ratio"

    def decide(self, state: PacingState, now: float) -> DialDecision:
        inputs = base_inputs(state, now)
        inputs["ratio"] = self.ratio
        n = math.ceil(self.ratio * inputs["agents_free"]) - inputs["calls_in_flight"]
        return capped_decision(self.name, n, inputs, f"ratio {self.ratio} x {inputs['agents_free']} free agents")


@dataclass
class AdaptiveLevel:
    """VICIdial-style reactive level: lines = level x active agents; every ``interval_s`` the level rises while
    agents sit ready and falls when calls found no agent; it drops hard once the window's drop rate passed
    ``drop_limit`` (a measurement of the past, not a forecast)."""

    drop_limit: float = 0.03
    interval_s: float = 15.0
    level: float = 1.0
    max_level: float = 6.0
    step: float = 0.05
    name: str = "adaptive_level"
    _next_adapt: float = field(default=-math.inf, repr=False)
    _last_abandons: int = field(default=0, repr=False)

    def decide(self, state: PacingState, now: float) -> DialDecision:
        inputs = base_inputs(state, now)
        status = state.budget.status(now)
        if now >= self._next_adapt:
            dropped = status.detected_abandons - self._last_abandons
            self._last_abandons = status.detected_abandons
            if status.live and status.rate > self.drop_limit:
                self.level = max(1.0, self.level - 4 * self.step)
            else:
                self.level = min(self.max_level, max(1.0, self.level + self.step * (inputs["agents_free"] - dropped)))
            self._next_adapt = now + self.interval_s
        inputs |= {"level": self.level, "window_rate": status.rate, "drop_limit": self.drop_limit}
        n = math.ceil(self.level * inputs["agents_active"]) - inputs["calls_in_flight"] - state.connected
        return capped_decision(
            self.name, n, inputs, f"level {self.level:.2f} x {inputs['agents_active']} active agents"
        )


def _normal_excess(mu: float, var: float) -> float:
    """E[max(D, 0)] for D ~ Normal(mu, var)."""
    if var <= 1e-12:
        return max(mu, 0.0)
    sigma = math.sqrt(var)
    x = mu / sigma
    return sigma * math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi) + mu * 0.5 * math.erfc(-x / math.sqrt(2))


@dataclass(frozen=True)
class GuardSettings:
    """Knobs of the predictive guard; the defaults are what the benchmark ran with."""

    ring_timeout_s: float = 20.0
    answer_tolerance_s: float = 2.0  # a person must reach an agent within this after AMD
    step_s: float = 2.0  # checkpoint spacing across the horizon
    sigma_margin: float = 1.3  # variance inflation for the skew of small counts
    cap_z: float = 4.0  # the cap check uses the mean + cap_z sigma of abandons
    cap_reserve: float = 1.0  # abandons the cap check keeps in hand for calls already ringing that it misjudged
    price_gain: float = 4.0  # how strongly the window's headroom raises the abandon price
    min_budget_live: float = 5.0  # headroom denominator floor (abandons) early in a window
    min_samples: int = 30
    min_window_live: float = 100.0  # cold start: progressive until the window holds this many live answers
    refit_s: float = 60.0
    default_amd_s: float = 2.5


@dataclass
class GuardTables:
    """What the guard derives from the statistics at each refit: forecast checkpoints and probability tables."""

    at: float
    offsets: list[float]
    ring: list[list[float]]  # [ringing seconds][checkpoint] P(live delivered by checkpoint)
    live_given_answer: float
    amd_s: float
    talk: list[float]  # CDF of talk time on a 1 s grid
    wrap: list[float]
    wrap_quantiles: list[float]  # wrap time still to come after talk ends, as a few equally likely values
    agent_memo: dict[tuple[bool, int], list[float]]
    fp_upper: float
    probabilities: dict[CallOutcome, float]


class PredictiveGuard:
    """Forecast, before dialling, how many live answers the calls in flight plus n new calls bring over the
    ring horizon against the agents free within the answer tolerance, and dial the largest n whose expected
    abandons (with variance) fit the window's budget; never fewer than progressive, and progressive only once
    the window has reached its target rate."""

    name = "predictive_guard"

    def __init__(self, settings: GuardSettings | None = None) -> None:
        self.settings = settings or GuardSettings()
        self._tables: GuardTables | None = None

    def _fit(self, stats: CampaignStats, now: float) -> GuardTables:
        s = self.settings
        probs = stats.outcome_probabilities(now)
        p_live, p_machine = probs[CallOutcome.LIVE], probs[CallOutcome.MACHINE]
        p_answer = p_live + p_machine
        amd = stats.amd_time.mean(s.default_amd_s)
        ring_max = math.ceil(s.ring_timeout_s)
        ring_cdf = stats.ring.cdf_grid(ring_max + 1)
        p_rejected = probs[CallOutcome.BUSY] + probs[CallOutcome.FAILED]
        rejected_cdf = stats.rejected.cdf_grid(ring_max + 1) if len(stats.rejected) else [0.0] * (ring_max + 2)
        k = math.ceil((ring_max + amd) / s.step_s)
        offsets = [s.step_s * (i + 1) for i in range(k)]
        ring_tab = []
        for r in range(ring_max + 1):
            f_r = ring_cdf[r]
            denom = 1.0 - p_answer * f_r - p_rejected * rejected_cdf[r]  # P(still ringing after r s)
            row = []
            for t in offsets:
                x = min(max(int(r + t - amd), r), ring_max + 1)
                row.append(p_live * (ring_cdf[x] - f_r) / denom if denom > 0 else 0.0)
            ring_tab.append(row)
        talk_max = math.ceil(max(stats.talk.sorted()[-1], 1.0)) + 1
        wraps = stats.wrap.sorted()
        wrap_max = math.ceil(max(wraps[-1], 1.0)) + 1
        return GuardTables(
            at=now,
            offsets=offsets,
            ring=ring_tab,
            live_given_answer=p_live / p_answer if p_answer > 0 else 0.0,
            amd_s=amd,
            talk=stats.talk.cdf_grid(talk_max),
            wrap=stats.wrap.cdf_grid(wrap_max),
            wrap_quantiles=[wraps[int(len(wraps) * q)] for q in (1 / 6, 1 / 2, 5 / 6)],
            agent_memo={},
            fp_upper=stats.amd_false_positive_upper(),
            probabilities=probs,
        )

    @staticmethod
    def _free_by(cdf: list[float], elapsed: int, offsets: list[float], shifts: list[float]) -> list[float]:
        """P(the phase ends within each offset less a shift | ``elapsed`` so far), averaged over the shifts;
        0 beyond the data (an unusually long call is assumed not to end soon)."""
        top = len(cdf) - 1
        if elapsed >= top or cdf[elapsed] >= 1.0:
            return [0.0] * len(offsets)
        base = cdf[elapsed]
        rest = (1.0 - base) * len(shifts)
        return [sum(cdf[min(max(elapsed + int(t - w), elapsed), top)] - base for w in shifts) / rest for t in offsets]

    def _agent_free_by(self, tab: GuardTables, talking: bool, elapsed: float) -> list[float]:
        """P(an agent talking (else wrapping) for ``elapsed`` s is free by each checkpoint + the tolerance)."""
        key = (talking, int(elapsed))
        probs = tab.agent_memo.get(key)
        if probs is None:
            tol = self.settings.answer_tolerance_s
            offsets = [t + tol for t in tab.offsets]
            if talking:
                probs = self._free_by(tab.talk, key[1], offsets, tab.wrap_quantiles)
            else:
                probs = self._free_by(tab.wrap, key[1], offsets, [0.0])
            tab.agent_memo[key] = probs
        return probs

    def _supply(self, tab: GuardTables, state: PacingState, now: float) -> tuple[list[float], list[float]]:
        """Agents free by each checkpoint + the tolerance: the ready ones plus, for each busy agent, the
        probability its talk (then wrap) or its wrap ends in time given how long it has lasted; mean and variance."""
        k = len(tab.offsets)
        supply = [float(state.stats.count_agents(AgentState.READY))] * k
        supply_var = [0.0] * k
        for agent in state.stats.agents.values():
            if agent.state not in BUSY_STATES:
                continue
            for i, g in enumerate(self._agent_free_by(tab, agent.state is AgentState.ON_CALL, now - agent.since)):
                supply[i] += g
                supply_var[i] += g * (1 - g)
        return supply, supply_var

    def _price(self, status: BudgetStatus) -> float:
        """Abandons the next call may add per live answer it adds: the target net of AMD false positives,
        raised while the window runs below its target and lowered above it."""
        base = max(0.0, status.target - status.false_positive_per_live)
        headroom = status.remaining_to_target / max(status.target * status.live, self.settings.min_budget_live)
        return base * math.exp(self.settings.price_gain * max(headroom, -3.0))

    def decide(self, state: PacingState, now: float) -> DialDecision:
        s = self.settings
        stats = state.stats
        inputs = base_inputs(state, now)
        n_prog = inputs["n_progressive"]
        if min(len(stats.ring), len(stats.handle)) < s.min_samples:
            inputs["samples"] = {"ring": len(stats.ring), "handle": len(stats.handle)}
            return capped_decision(self.name, n_prog, inputs, f"progressive: fewer than {s.min_samples} samples so far")
        if self._tables is None or now - self._tables.at >= s.refit_s:
            self._tables = self._fit(stats, now)
        tab = self._tables
        status = state.budget.status(now, tab.fp_upper)
        inputs |= _budget_inputs(status) | {
            "p_live": tab.probabilities[CallOutcome.LIVE],
            "p_machine": tab.probabilities[CallOutcome.MACHINE],
            "p_busy_or_failed": tab.probabilities[CallOutcome.BUSY] + tab.probabilities[CallOutcome.FAILED],
            "amd_decision_s": tab.amd_s,
            "amd_false_positive_upper": tab.fp_upper,
            "tables_fitted_at": tab.at,
        }
        if status.spent:
            return capped_decision(self.name, n_prog, inputs, "progressive: the window's abandon budget is spent")
        if status.live < s.min_window_live:
            reason = f"progressive: fewer than {s.min_window_live:g} live answers in the window"
            return capped_decision(self.name, n_prog, inputs, reason)
        k = len(tab.offsets)
        demand = [0.0] * k
        demand_var = [0.0] * k
        ring_counts: dict[int, int] = {}
        ring_last = len(tab.ring) - 1
        for call in state.calls:
            if call.answered_at is None:
                r = min(int(now - call.dialled_at), ring_last)
                ring_counts[r] = ring_counts.get(r, 0) + 1
            else:
                due = tab.amd_s - (now - call.answered_at)
                q = tab.live_given_answer
                for i, t in enumerate(tab.offsets):
                    if due <= t:
                        demand[i] += q
                        demand_var[i] += q * (1 - q)
        for r, count in ring_counts.items():
            for i, q in enumerate(tab.ring[r]):
                demand[i] += count * q
                demand_var[i] += count * q * (1 - q)
        supply, supply_var = self._supply(tab, state, now)
        new = tab.ring[0]
        inflate = s.sigma_margin**2
        price = self._price(status)
        best = 0
        previous_lost = previous_live = 0.0
        predicted: dict[str, float] = {}
        for n in range(inputs["n_max"] + 1):
            lost = 0.0
            lost_high = 0.0
            for i in range(k):
                mu = demand[i] + n * new[i] - supply[i]
                var = (demand_var[i] + n * new[i] * (1 - new[i]) + supply_var[i]) * inflate
                lost = max(lost, min(_normal_excess(mu, var), demand[i] + n * new[i]))
                lost_high = max(lost_high, mu + s.cap_z * math.sqrt(var))
            live = demand[-1] + n * new[-1]
            cap_room = status.remaining_to_cap + status.cap * live - s.cap_reserve
            marginal = (lost - previous_lost) / (live - previous_live) if n > 0 and live > previous_live else 0.0
            if n > 0 and (marginal > price or lost_high > cap_room):
                break
            best = n
            previous_lost, previous_live = lost, live
            predicted = {"live": live, "lost": lost, "lost_high": lost_high, "marginal": marginal, "cap_room": cap_room}
        inputs["abandon_price"] = price
        inputs["forecast"] = predicted | {"demand": demand[-1], "supply": supply[-1]}
        n = max(best, n_prog)
        live, lost, marginal = (predicted.get(key, 0.0) for key in ("live", "lost", "marginal"))
        reason = (
            f"predictive: {n} calls; forecast {live:.2f} live vs {supply[-1]:.2f} agents, expected abandons "
            f"{lost:.3f}, last call's abandons per live answer {marginal:.4f} <= price {price:.4f}"
        )
        return capped_decision(self.name, n, inputs, reason)


def _budget_inputs(status: BudgetStatus) -> dict[str, Any]:
    return {
        "window_live": status.live,
        "window_abandons": status.abandons,
        "window_rate": status.rate,
        "cap": status.cap,
        "target": status.target,
        "remaining_to_target": status.remaining_to_target,
        "remaining_to_cap": status.remaining_to_cap,
        "budget_spent": status.spent,
    }

"""Upper-bound pacing policies for benchmarks: they are told the true moment every busy agent will be free
(exact talk and wrap end), which no real dialler knows. Whether and when each call answers stays unknown to
them, as it does to every dialler, so what they reach bounds what forecasting agents better can win.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from engine.dialler.pacing import (
    BUSY_STATES,
    DialDecision,
    GuardSettings,
    GuardTables,
    PacingState,
    PredictiveGuard,
    base_inputs,
    capped_decision,
)
from engine.dialler.stats import AgentState, CampaignStats


def _free_within(stats: CampaignStats, free_at: dict[str, float], until: float) -> int:
    """Agents ready now plus busy agents whose true free time is at or before ``until``."""
    return sum(
        1
        for agent_id, agent in stats.agents.items()
        if agent.state is AgentState.READY or (agent.state in BUSY_STATES and free_at[agent_id] <= until)
    )


class ClairvoyantGuard(PredictiveGuard):
    """The predictive guard with the agents' forecast replaced by their true free times."""

    name = "clairvoyant_guard"

    def __init__(self, settings: GuardSettings | None = None) -> None:
        super().__init__(settings)
        self.free_at: dict[str, float] = {}

    def foresee(self, agent_id: str, free_at: float) -> None:
        """The simulation reveals when the agent that just took a call will be ready again."""
        self.free_at[agent_id] = free_at

    def _supply(self, tab: GuardTables, state: PacingState, now: float) -> tuple[list[float], list[float]]:
        """Agents certainly free by each checkpoint + the tolerance: no variance."""
        until = now + self.settings.answer_tolerance_s
        return [float(_free_within(state.stats, self.free_at, until + t)) for t in tab.offsets], [0.0] * len(
            tab.offsets
        )


@dataclass
class ClairvoyantLevel:
    """Keeps the expected live answers in flight at ``level`` x the agents free within ``horizon_s`` (counted
    exactly), using the traffic's true live and machine probabilities; never fewer calls than progressive."""

    level: float
    horizon_s: float
    p_live: float
    p_machine: float
    name: str = "clairvoyant_level"
    free_at: dict[str, float] = field(default_factory=dict)

    def foresee(self, agent_id: str, free_at: float) -> None:
        """The simulation reveals when the agent that just took a call will be ready again."""
        self.free_at[agent_id] = free_at

    def decide(self, state: PacingState, now: float) -> DialDecision:
        inputs = base_inputs(state, now)
        soon = _free_within(state.stats, self.free_at, now + self.horizon_s)
        live_if_answered = self.p_live / (self.p_live + self.p_machine)
        expected = sum(self.p_live if c.answered_at is None else live_if_answered for c in state.calls)
        wanted = math.floor((self.level * soon - expected) / self.p_live + 0.5)
        inputs |= {"agents_free_within_horizon": soon, "expected_live_in_flight": expected}
        n = max(wanted, inputs["n_progressive"])
        return capped_decision(self.name, n, inputs, f"{expected:.2f} live expected for {soon} agents")

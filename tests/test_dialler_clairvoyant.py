from hypothesis import given, settings
from hypothesis import strategies as st

from engine.dialler.clairvoyant import ClairvoyantGuard, ClairvoyantLevel
from engine.dialler.pacing import CallInFlight, DialDecision, PacingState, PredictiveGuard, Progressive, TrunkLimits
from engine.dialler.simulation import Shift, simulate
from engine.dialler.stats import AgentState
from tests.test_dialler_pacing import REQUIRED, T0, healthy_budget, warm_stats

TALKING = {f"t{i}": (AgentState.ON_CALL, T0 - 5) for i in range(10)}  # talks just began: the guard sees none free


def test_clairvoyant_guard_dials_for_the_agents_it_knows_will_free() -> None:
    state = PacingState(warm_stats(TALKING), healthy_budget(), TrunkLimits())
    guessing = PredictiveGuard().decide(state, T0)
    knowing = ClairvoyantGuard()
    for agent in TALKING:
        knowing.foresee(agent, T0 + 6)  # all ten free in 6 s: a real dialler cannot know this
    decision = knowing.decide(state, T0)
    assert decision.n_calls > guessing.n_calls
    assert decision.inputs["forecast"]["supply"] == 10.0 and decision.policy == "clairvoyant_guard"
    later = ClairvoyantGuard()
    for agent in TALKING:
        later.foresee(agent, T0 + 600)
    assert later.decide(state, T0).n_calls == 0


def test_clairvoyant_level_keeps_expected_live_in_flight_at_its_level() -> None:
    agents = TALKING | {"r": (AgentState.READY, T0)}
    policy = ClairvoyantLevel(level=0.5, horizon_s=10.0, p_live=0.25, p_machine=0.25)
    for i, agent in enumerate(TALKING):
        policy.foresee(agent, T0 + (5 if i < 3 else 60))  # 3 free within the horizon, plus the ready one
    calls = [CallInFlight(T0 - 4), CallInFlight(T0 - 8, T0 - 1)]  # expected live 0.25 + 0.5
    decision = policy.decide(PacingState(warm_stats(agents), healthy_budget(), TrunkLimits(), calls), T0)
    assert decision.inputs["agents_free_within_horizon"] == 4
    assert decision.inputs["expected_live_in_flight"] == 0.75
    assert decision.n_calls == 5  # (0.5 x 4 - 0.75) / 0.25
    assert decision.inputs.keys() >= REQUIRED


@settings(max_examples=30, deadline=None)
@given(st.floats(0.1, 3.0), st.floats(0, 30), st.integers(1, 5), st.integers(0, 8))
def test_clairvoyant_level_respects_progressive_and_trunk(level: float, horizon: float, cps: int, ready: int) -> None:
    agents = TALKING | {f"r{i}": (AgentState.READY, T0) for i in range(ready)}
    policy = ClairvoyantLevel(level, horizon, p_live=0.2, p_machine=0.15)
    for agent in TALKING:
        policy.foresee(agent, T0 + 8)
    decision = policy.decide(PacingState(warm_stats(agents), healthy_budget(), TrunkLimits(calls_per_second=cps)), T0)
    assert decision.n_calls <= cps
    assert decision.n_calls >= min(ready, cps)  # never fewer than progressive within the trunk


class _Auditor(Progressive):
    """Progressive, told each agent's free time, checking it against when the agent really became ready."""

    def __init__(self) -> None:
        self.foreseen: dict[str, float] = {}
        self.checked = 0

    def foresee(self, agent_id: str, free_at: float) -> None:
        self.foreseen[agent_id] = free_at

    def decide(self, state: PacingState, now: float) -> DialDecision:
        for agent_id, agent in state.stats.agents.items():
            if agent.state is AgentState.READY and agent_id in self.foreseen:
                assert agent.since == self.foreseen.pop(agent_id)
                self.checked += 1
            elif agent.state is not AgentState.READY:
                assert self.foreseen[agent_id] > now
        return super().decide(state, now)


def test_simulation_reveals_the_true_free_time() -> None:
    auditor = _Auditor()
    simulate(auditor, Shift(6, 0.5, 4))
    assert auditor.checked > 20


def test_clairvoyant_guard_runs_a_shift_under_the_cap() -> None:
    result = simulate(ClairvoyantGuard(), Shift(10, 0.5, 3))
    assert result.connects > 0 and result.window_rate <= 0.03

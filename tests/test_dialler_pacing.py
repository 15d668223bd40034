import random

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.dialler.budget import AbandonBudget, BudgetSettings
from engine.dialler.outcomes import CallOutcome
from engine.dialler.pacing import (
    AdaptiveLevel,
    CallInFlight,
    FixedRatio,
    PacingState,
    PredictiveGuard,
    Preview,
    Progressive,
    TrunkLimits,
)
from engine.dialler.stats import AgentState, CampaignStats

T0 = 1714986000.0
REQUIRED = {"agents_free", "calls_in_flight", "n_max", "n_progressive", "limit_cps", "limit_channels", "n_wanted"}


def warm_stats(agents: dict[str, tuple[AgentState, float]]) -> CampaignStats:
    """Stats after a few hundred calls: 25 % live, 15 % machine, ring 3-12 s, talk 60-140 s, wrap 10-20 s."""
    rng = random.Random(1)
    stats = CampaignStats()
    for i in range(400):
        u = rng.random()
        outcome = CallOutcome.LIVE if u < 0.25 else CallOutcome.MACHINE if u < 0.4 else CallOutcome.NO_ANSWER
        answered = outcome is not CallOutcome.NO_ANSWER
        stats.record_call(outcome, T0 - 3600 + i, rng.uniform(3, 12) if answered else None)
        stats.record_handle(rng.uniform(60, 140), rng.uniform(10, 20))
        stats.record_amd_decision(2.0)
        stats.record_amd_audit(True, False)
    for agent, (state, since) in agents.items():
        stats.set_agent(agent, AgentState.ON_CALL if state is AgentState.WRAP else state, since - 100)
        stats.set_agent(agent, state, since)
    return stats


def healthy_budget() -> AbandonBudget:
    budget = AbandonBudget(BudgetSettings())
    for i in range(2000):
        budget.record_live(T0 - 7200 + i)
    return budget


def test_preview_progressive_fixed_ratio() -> None:
    stats = warm_stats({f"a{i}": (AgentState.READY, T0 - 5) for i in range(4)})
    state = PacingState(stats, healthy_budget(), TrunkLimits(), calls=[CallInFlight(T0 - 3)])
    assert Preview().decide(state, T0).n_calls == 0
    progressive = Progressive().decide(state, T0)
    assert progressive.n_calls == 3 and progressive.inputs["agents_free"] == 4
    assert FixedRatio(2.5).decide(state, T0).n_calls == 9  # ceil(2.5 x 4) - 1


def test_guard_is_progressive_until_it_has_samples() -> None:
    stats = CampaignStats()
    stats.set_agent("a", AgentState.READY, T0)
    decision = PredictiveGuard().decide(PacingState(stats, healthy_budget(), TrunkLimits()), T0)
    assert decision.n_calls == 1 and "fewer than" in decision.reason and decision.inputs["samples"]["ring"] == 0


def test_guard_predials_for_agents_about_to_free() -> None:
    agents = {f"w{i}": (AgentState.WRAP, T0 - 15) for i in range(10)}  # wraps last 10-20 s: all free soon
    state = PacingState(warm_stats(agents), healthy_budget(), TrunkLimits())
    decision = PredictiveGuard().decide(state, T0)
    assert decision.inputs["n_progressive"] == 0
    assert decision.n_calls > 0
    assert decision.inputs["forecast"]["live"] <= decision.inputs["forecast"]["supply"]
    busy = {f"t{i}": (AgentState.ON_CALL, T0 - 1) for i in range(10)}  # talks just began: none free soon
    quiet = PredictiveGuard().decide(PacingState(warm_stats(busy), healthy_budget(), TrunkLimits()), T0)
    assert quiet.n_calls < decision.n_calls


def test_guard_knows_busy_and_failed_calls_end_early() -> None:
    """A call still ringing after 6 s is no longer a possible busy or failed one: more likely a person."""
    agents = {f"w{i}": (AgentState.WRAP, T0 - 15) for i in range(4)}
    calls = [CallInFlight(T0 - 6) for _ in range(8)]
    demand = []
    for busy_ring_s in (None, 2.0):
        stats = warm_stats(agents)
        for i in range(150):
            stats.record_call(CallOutcome.BUSY, T0 - 50 + i * 0.1, busy_ring_s)
        decision = PredictiveGuard().decide(PacingState(stats, healthy_budget(), TrunkLimits(), calls), T0)
        demand.append(decision.inputs["forecast"]["demand"])
    assert demand[1] > demand[0] * 1.1


def test_guard_falls_back_to_progressive_when_budget_spent() -> None:
    agents = {f"w{i}": (AgentState.WRAP, T0 - 15) for i in range(10)} | {"r": (AgentState.READY, T0)}
    budget = AbandonBudget(BudgetSettings())
    for i in range(100):
        budget.record_live(T0 - 100 + i, abandoned=i < 3)
    decision = PredictiveGuard().decide(PacingState(warm_stats(agents), budget, TrunkLimits()), T0)
    assert decision.n_calls == 1 and decision.inputs["budget_spent"] and "budget is spent" in decision.reason


def test_adaptive_level_reacts_to_the_past() -> None:
    stats = warm_stats({f"a{i}": (AgentState.READY, T0) for i in range(5)})
    policy = AdaptiveLevel(interval_s=10)
    first = policy.decide(PacingState(stats, healthy_budget(), TrunkLimits()), T0)
    assert policy.level > 1.0 and first.inputs["level"] == policy.level
    bad = AbandonBudget(BudgetSettings())
    for i in range(100):
        bad.record_live(T0 + i, abandoned=i < 10)
    before = policy.level
    policy.decide(PacingState(stats, bad, TrunkLimits()), T0 + 100)
    assert policy.level < before


agent_states = st.sampled_from([AgentState.READY, AgentState.ON_CALL, AgentState.WRAP, AgentState.PAUSED])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(agent_states, st.floats(0, 300)), min_size=1, max_size=30),
    st.lists(st.tuples(st.floats(0, 19), st.one_of(st.none(), st.floats(0, 3))), max_size=60),
    st.integers(1, 120),
    st.integers(1, 10),
    st.floats(1, 6),
    st.integers(0, 10),
    st.sampled_from(["progressive", "ratio", "adaptive", "guard"]),
)
def test_trunk_limits_and_inputs_always_hold(
    agents: list[tuple[AgentState, float]],
    calls: list[tuple[float, float | None]],
    channels: int,
    cps: int,
    lines: float,
    dialled_last_second: int,
    which: str,
) -> None:
    stats = warm_stats({f"a{i}": (state, T0 - age) for i, (state, age) in enumerate(agents)})
    flights = [CallInFlight(T0 - ring, None if amd is None else T0 - min(amd, ring)) for ring, amd in calls]
    trunk = TrunkLimits(max_channels=channels, calls_per_second=cps, lines_per_agent=lines)
    state = PacingState(
        stats, healthy_budget(), trunk, flights, connected=2, recent_dials=[T0 - 0.5] * dialled_last_second
    )
    policy = {"progressive": Progressive(), "ratio": FixedRatio(3.0), "adaptive": AdaptiveLevel(level=4.0)}.get(
        which, PredictiveGuard()
    )
    decision = policy.decide(state, T0)
    active = stats.count_agents(AgentState.READY, AgentState.ON_CALL, AgentState.WRAP)
    assert decision.n_calls >= 0
    assert len(flights) + 2 + decision.n_calls <= max(channels, len(flights) + 2)
    assert dialled_last_second + decision.n_calls <= max(cps, dialled_last_second)
    assert decision.n_calls == 0 or len(flights) + decision.n_calls <= lines * active
    assert decision.inputs.keys() >= REQUIRED and decision.reason and decision.policy == policy.name
    if which == "guard" and decision.inputs["n_max"] >= decision.inputs["n_progressive"]:
        assert decision.n_calls >= decision.inputs["n_progressive"]  # never fewer than progressive

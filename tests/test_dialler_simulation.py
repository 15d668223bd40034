from hypothesis import example, given, settings
from hypothesis import strategies as st

from engine.dialler.budget import BudgetSettings
from engine.dialler.pacing import DialDecision, FixedRatio, PredictiveGuard, Progressive, TrunkLimits
from engine.dialler.simulation import Shift, Traffic, simulate, traffic_for_seed


def test_same_seed_same_result() -> None:
    a = simulate(FixedRatio(2.0), Shift(5, 0.25, 3))
    b = simulate(FixedRatio(2.0), Shift(5, 0.25, 3))
    assert a == b and a.dials > 0 and a.connects > 0


def test_traffic_ranges() -> None:
    for seed in range(20):
        t = traffic_for_seed(seed)
        assert 0.15 <= t.p_live <= 0.30 and 0.15 <= t.p_machine <= 0.20 and 90 <= t.talk_mean_s <= 180


def test_progressive_never_abandons_without_amd_errors() -> None:
    traffic = Traffic(amd_false_positive=0.0, amd_false_negative=0.0)
    result = simulate(Progressive(), Shift(8, 0.5, 1, traffic=traffic))
    assert result.abandons == 0 and result.amd_false_positives == 0 and result.connects > 20


def test_overdialling_raises_occupancy_and_abandons() -> None:
    slow = simulate(Progressive(), Shift(10, 0.5, 2))
    fast = simulate(FixedRatio(4.0), Shift(10, 0.5, 2))
    assert fast.occupancy > slow.occupancy + 0.1 and fast.abandons > slow.abandons


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([20, 30]))
@example(5000, 30)  # broke the cap (3.14 %) before the cap check kept one abandon in reserve
@example(1861, 20)  # broke it at a 3-sigma cap check
def test_guard_keeps_the_window_under_the_cap(seed: int, agents: int) -> None:
    decisions: list[DialDecision] = []
    trunk = TrunkLimits(max_channels=4 * agents, calls_per_second=5, lines_per_agent=3.0)
    result = simulate(PredictiveGuard(), Shift(agents, 0.5, seed, trunk=trunk), decisions.append)
    assert result.window_rate <= BudgetSettings().cap
    assert result.max_channels <= trunk.max_channels
    assert result.max_dials_per_second <= trunk.calls_per_second
    assert result.max_lines_per_agent <= trunk.lines_per_agent
    assert len(decisions) == result.decisions == 1800
    assert all("n_max" in d.inputs and "agents_free" in d.inputs and d.reason for d in decisions)
    assert any(d.reason.startswith("predictive") for d in decisions)

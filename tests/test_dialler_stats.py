import pytest

from engine.dialler.outcomes import CallOutcome
from engine.dialler.stats import AgentState, CampaignStats, Empirical, StatsSettings, wilson_upper

T0 = 1714986000.0  # 2024-05-06 09:00 UTC


def test_outcome_probabilities_follow_data_and_decay() -> None:
    stats = CampaignStats(StatsSettings(prior_weight=10))
    prior = stats.outcome_probabilities(T0)
    assert prior[CallOutcome.LIVE] == pytest.approx(0.2)
    for i in range(200):
        stats.record_call(CallOutcome.LIVE if i % 2 else CallOutcome.NO_ANSWER, T0 + i, ring_s=5.0 if i % 2 else None)
    probs = stats.outcome_probabilities(T0 + 200)
    assert probs[CallOutcome.LIVE] > 0.4 and sum(probs.values()) == pytest.approx(1.0)
    for i in range(200):
        stats.record_call(CallOutcome.BUSY, T0 + 4 * 3600 + i)
    assert stats.outcome_probabilities(T0 + 4 * 3600 + 200)[CallOutcome.BUSY] > 0.8  # old data decayed
    assert len(stats.ring) == 100 and stats.ring.cdf(5.0) == 1.0


def test_abandoned_counts_as_live_answer() -> None:
    stats = CampaignStats()
    stats.record_call(CallOutcome.ABANDONED, T0, ring_s=3.0)
    assert stats.recent.snapshot(T0)[CallOutcome.LIVE] == 1.0
    with pytest.raises(ValueError, match="not a dial outcome"):
        stats.record_call("ringing", T0)  # type: ignore[arg-type]


def test_hour_of_day_uses_campaign_zone() -> None:
    assert CampaignStats(StatsSettings(time_zone="America/New_York")).hour_of_day(T0) == 5


def test_empirical_grid_matches_cdf() -> None:
    dist = Empirical(10)
    for x in (0.5, 1.0, 2.5, 2.5, 9.0):
        dist.add(x)
    assert dist.cdf_grid(3) == [0.0, 0.4, 0.4, 0.8]
    assert dist.cdf(2.5) == 0.8 and dist.mean() == pytest.approx(3.1)


def test_wilson_upper_bound() -> None:
    assert wilson_upper(0, 0) == 1.0
    # Wilson (1927) in counts: (k + z^2/2 + z sqrt(k(n-k)/n + z^2/4)) / (n + z^2), k = 5, n = 1000, z = 1.96:
    # (5 + 1.9208 + 1.96 x sqrt(4.975 + 0.9604)) / 1003.8416 = (6.9208 + 4.775085) / 1003.8416 = 0.011651
    assert wilson_upper(5, 1000) == pytest.approx(0.011651, abs=1e-6)
    stats = CampaignStats()
    for i in range(1000):
        stats.record_amd_audit(live=True, classified_machine=i < 5)
        stats.record_amd_audit(live=False, classified_machine=True)
    assert stats.amd_false_positive_upper() == pytest.approx(wilson_upper(5, 1000))


def test_agent_states_and_handle_start() -> None:
    stats = CampaignStats()
    stats.set_agent("a", AgentState.READY, T0)
    stats.set_agent("a", AgentState.ON_CALL, T0 + 10)
    stats.set_agent("a", AgentState.WRAP, T0 + 100)
    status = stats.agents["a"]
    assert status.handle_started == T0 + 10 and status.since == T0 + 100
    assert stats.time_in_state("a", T0 + 130) == 30
    assert stats.count_agents(AgentState.WRAP) == 1 and stats.count_agents(AgentState.READY) == 0
    stats.record_handle(90.0, 30.0)
    assert stats.handle.mean() == 120.0 and stats.talk.mean() == 90.0


def test_ring_time_kept_per_outcome() -> None:
    stats = CampaignStats()
    stats.record_call(CallOutcome.LIVE, T0, 6.0)
    stats.record_call(CallOutcome.MACHINE, T0, 8.0)
    stats.record_call(CallOutcome.BUSY, T0, 2.0)
    stats.record_call(CallOutcome.FAILED, T0, 1.0)
    stats.record_call(CallOutcome.NO_ANSWER, T0, 20.0)
    assert stats.ring.sorted() == [6.0, 8.0] and stats.rejected.sorted() == [1.0, 2.0]

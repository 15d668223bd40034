import pytest

from engine.dialler.budget import AbandonBudget, BudgetSettings, WindowRule

T0 = 1714986000.0


def test_rate_remaining_and_spent() -> None:
    budget = AbandonBudget(BudgetSettings(cap=0.03, target=0.02))
    assert budget.status(T0).spent  # no live answers yet: progressive only
    for i in range(100):
        budget.record_live(T0 + i, abandoned=i < 2)
    status = budget.status(T0 + 100)
    assert status.rate == pytest.approx(0.02)
    assert status.remaining_to_target == pytest.approx(0.0)
    assert status.remaining_to_cap == pytest.approx(1.0)
    assert not status.spent
    budget.record_live(T0 + 101, abandoned=True)
    assert budget.status(T0 + 101).spent  # 3 of 101: a 4th abandon would make 4 of 102, over the cap


def test_amd_false_positives_count_when_the_rule_says_so() -> None:
    counting = AbandonBudget(BudgetSettings())
    ignoring = AbandonBudget(BudgetSettings(count_amd_false_positives=False))
    for budget in (counting, ignoring):
        for i in range(1000):
            budget.record_live(T0 + i)
    with_fp = counting.status(T0 + 1000, amd_false_positive_rate=0.01)
    assert with_fp.abandons == pytest.approx(1000 * 0.01 / 0.99)
    assert with_fp.rate == pytest.approx(0.01)
    assert with_fp.detected_abandons == 0
    assert ignoring.status(T0 + 1000, amd_false_positive_rate=0.01).rate == 0.0


@pytest.mark.parametrize(("rule", "kept"), [(WindowRule.OFCOM_24_HOURS, 1), (WindowRule.FTC_30_DAYS, 2)])
def test_window_expiry(rule: WindowRule, kept: int) -> None:
    budget = AbandonBudget(BudgetSettings(rule=rule))
    budget.record_live(T0, abandoned=True)
    budget.record_live(T0 + 2 * 86400)
    assert budget.status(T0 + 2 * 86400).live == kept


def test_target_must_not_exceed_cap() -> None:
    with pytest.raises(ValueError, match="target"):
        BudgetSettings(cap=0.03, target=0.05)

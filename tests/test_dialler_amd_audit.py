"""AMD audit arithmetic: the Wilson upper bound of labelled false positives (checked against hand-computed
values), the conservative prior with too few labels, the conversion the abandon budget uses, sampling."""

from __future__ import annotations

import pytest

from engine.dialler import amd_audit as a
from engine.dialler.budget import AbandonBudget


def test_wilson_bound_with_enough_labels_matches_the_hand_computed_value() -> None:
    # 2 people in 50 labels, z = 1.96: p = 0.04, z^2/n = 0.076832,
    # (p + z^2/2n + z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n) = (0.078416 + 0.0665293) / 1.076832 = 0.134604
    est = a.estimate(2, 50, 0, 0, a.AmdAuditSettings(min_labels=30))
    assert est.source is a.Source.AUDITED and est.rate == pytest.approx(0.04)
    assert est.upper == pytest.approx(0.134604, abs=1e-6)
    assert "Wilson" in est.note and "2 people in 50" in est.note
    # no person in 30 labels: the bound is z^2 / (n + z^2) = 3.8416 / 33.8416 = 0.113517
    assert a.estimate(0, 30, 0, 0, a.AmdAuditSettings()).upper == pytest.approx(0.113517, abs=1e-6)


def test_too_few_labels_fall_back_to_the_prior_unless_the_labels_are_worse() -> None:
    settings = a.AmdAuditSettings(min_labels=30, prior=0.15)
    none = a.estimate(0, 0, 10, 20, settings)
    assert none.source is a.Source.PRIOR and none.upper == 0.15 and none.rate == 0.15
    assert "0 of 30 labels" in none.note and "conservative prior 15.00%" in none.note
    assert a.estimate(1, 10, 0, 0, settings).upper == 0.15  # 10 % of 10 labels: still the prior
    worse = a.estimate(3, 10, 0, 0, settings)
    assert worse.upper == pytest.approx(0.3) and "raised to the labels' 30.00%" in worse.note
    # the prior sits above the bound 30 clean labels give, so reaching min_labels never raises the estimate
    assert a.estimate(0, 30, 0, 0, settings).upper < settings.prior
    with pytest.raises(ValueError, match="humans"):
        a.estimate(5, 4, 0, 0, settings)


def test_the_budget_gets_the_share_of_people_amd_called_machines() -> None:
    # 100 machine verdicts, 150 human verdicts, bound q = 0.134604 of machine verdicts are people:
    # hidden people = 13.4604, P(machine | person) = 13.4604 / (150 + 13.4604) = 0.082347
    est = a.estimate(2, 50, 100, 150, a.AmdAuditSettings())
    assert est.per_person_upper == pytest.approx(0.082347, abs=1e-6)
    budget = AbandonBudget()
    for i in range(150):
        budget.record_live(float(i), abandoned=i < 1)
    status = budget.status(200.0, est.per_person_upper)
    # the window counts the 13.46 hidden people as live answers and as abandons
    assert status.live == pytest.approx(163.4604, abs=1e-3) and status.abandons == pytest.approx(14.4604, abs=1e-3)
    assert a.per_person(0.5, 0, 10) == 0.0  # no machine verdicts: nobody hidden
    assert a.per_person(0.5, 4, 0) == pytest.approx(2 / 3)  # no people yet: one is assumed, so it stays finite


def test_override_uses_the_operators_calibration_directly() -> None:
    est = a.override(2000, 4, 7, 9)
    assert est.source is a.Source.OVERRIDE and est.per_person_upper == est.upper
    assert 0.002 < est.upper < 0.006 and "dial_params.amd_audit" in est.note


def test_sampling_is_stable_per_call_and_near_the_percentage() -> None:
    legs = [f"leg-{i}" for i in range(4000)]
    chosen = [leg for leg in legs if a.sampled(leg, 5.0)]
    assert 150 <= len(chosen) <= 250  # 5 % of 4000 = 200
    assert chosen == [leg for leg in legs if a.sampled(leg, 5.0)]
    assert all(a.sampled(leg, 100.0) for leg in legs[:50]) and not any(a.sampled(leg, 0.0) for leg in legs[:50])


def test_settings_from_compliance_name_the_bad_field() -> None:
    raw = {"amd_sampling": {"sample_percent": 10, "record_seconds": 5, "machine_dispositions": ["machine"]}}
    settings = a.audit_settings(raw)
    assert settings.sample_percent == 10.0 and settings.record_seconds == 5
    assert settings.machine_dispositions == ("machine",) and settings.min_labels == 30
    assert a.audit_settings({}) == a.AmdAuditSettings()
    for bad, field in (
        ({"sample_percent": -1}, "sample_percent"),
        ({"record_seconds": 0}, "record_seconds"),
        ({"min_labels": "many"}, "min_labels"),
        ({"prior": 0}, "prior"),
        ({"machine_dispositions": "machine"}, "machine_dispositions"),
        ({"sample_pct": 5}, "sample_pct"),
    ):
        with pytest.raises(ValueError, match=rf"compliance\.amd_sampling\.{field}"):
            a.audit_settings({"amd_sampling": bad})

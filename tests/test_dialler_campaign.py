"""Campaign lifecycle table and stored settings -> the pure core's objects."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from engine.dialler import campaign as c
from engine.dialler.budget import WindowRule
from engine.dialler.outcomes import CallOutcome
from engine.dialler.pacing import FixedRatio, PredictiveGuard, Preview, Progressive


def test_every_transition_outside_the_table_is_refused() -> None:
    for old in c.CampaignState:
        for new in c.CampaignState:
            if new in c.TRANSITIONS[old]:
                assert c.check_transition(old, new) is new
            else:
                with pytest.raises(c.IllegalCampaignTransition):
                    c.check_transition(old, new)
    with pytest.raises(c.IllegalCampaignTransition, match="unknown campaign state 'gone'"):
        c.check_transition("draft", "gone")


def test_dial_modes_map_to_policies() -> None:
    assert isinstance(c.policy_for("preview", {}), Preview)
    assert isinstance(c.policy_for("progressive", {}), Progressive)
    assert isinstance(c.policy_for("predictive", {}), PredictiveGuard)
    assert c.policy_for("fixed_ratio", {"ratio": 2.5}) == FixedRatio(2.5)
    with pytest.raises(ValueError, match=r"dial_params\.ratio"):
        c.policy_for("fixed_ratio", {"ratio": 0.5})
    with pytest.raises(ValueError, match="dial_mode"):
        c.policy_for("blast", {})


def test_amd_calibration_is_an_optional_operator_override() -> None:
    assert c.amd_calibration({}) is None
    c.validate("predictive", {}, {}, "hang_up")  # predictive no longer needs it: labelled samples feed the bound
    assert c.amd_calibration({"amd_audit": {"live": 500, "false_positives": 2}}) == (500, 2)
    with pytest.raises(ValueError, match=r"dial_params\.amd_audit: needs \{live"):
        c.validate("predictive", {"amd_audit": {"live": "many"}}, {}, "hang_up")
    with pytest.raises(ValueError, match="false_positives"):
        c.amd_calibration({"amd_audit": {"live": 5, "false_positives": 6}})
    with pytest.raises(ValueError, match=r"compliance\.amd_sampling\.sample_percent"):
        c.validate("progressive", {}, {"amd_sampling": {"sample_percent": 120}}, "hang_up")


def test_compliance_and_budget_settings_from_json() -> None:
    raw = {
        "window": {"start": "09:00", "end": "20:00", "weekdays": [0, 1, 2, 3, 4]},
        "abandon_quarantine_hours": 24,
        "retries": {"busy": {"minutes": 5, "max_attempts": 2}},
        "budget": {"rule": "ofcom_24h", "cap": 0.03, "target": 0.02},
    }
    settings = c.compliance_settings(raw)
    assert settings.window.start == time(9) and settings.window.weekdays == frozenset(range(5))
    assert settings.abandon_quarantine == timedelta(hours=24)
    assert settings.retries[CallOutcome.BUSY].interval == timedelta(minutes=5)
    assert settings.retries[CallOutcome.NO_ANSWER].max_attempts == 4  # defaults kept for the rest
    budget = c.budget_settings(raw)
    assert budget.rule is WindowRule.OFCOM_24_HOURS and budget.target == 0.02
    assert c.trunk_limits({"max_channels": 30}).max_channels == 30


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"window": {"end": "25:00"}}, r"compliance\.window\.end"),
        ({"retries": {"vanished": {"minutes": 1, "max_attempts": 1}}}, r"compliance\.retries\.vanished"),
        ({"budget": {"rule": "lax"}}, r"compliance\.budget\.rule"),
        ({"min_ring_seconds": 5}, "min_ring_seconds"),
    ],
)
def test_bad_settings_name_their_field(raw: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        c.validate("progressive", {}, raw, "hang_up")

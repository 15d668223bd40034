"""A campaign's lifecycle and settings: the legal state transitions, and the stored JSON settings turned
into the pure core's objects (pacing policy, trunk limits, compliance, abandon budget). Bad settings raise
``ValueError`` naming the field."""

from __future__ import annotations

from datetime import time, timedelta
from enum import StrEnum
from typing import Any

from engine.dialler.amd_audit import audit_settings
from engine.dialler.budget import BudgetSettings, WindowRule
from engine.dialler.compliance import DEFAULT_RETRIES, CallingWindow, ComplianceSettings, RetryRule
from engine.dialler.outcomes import CallOutcome
from engine.dialler.pacing import FixedRatio, Policy, PredictiveGuard, Preview, Progressive, TrunkLimits


class CampaignState(StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"


TRANSITIONS: dict[CampaignState, frozenset[CampaignState]] = {
    CampaignState.DRAFT: frozenset({CampaignState.RUNNING, CampaignState.FINISHED}),
    CampaignState.RUNNING: frozenset({CampaignState.PAUSED, CampaignState.FINISHED}),
    CampaignState.PAUSED: frozenset({CampaignState.RUNNING, CampaignState.FINISHED}),
    CampaignState.FINISHED: frozenset(),
}

DIAL_MODES = ("preview", "progressive", "fixed_ratio", "predictive")


class AmdRule(StrEnum):
    """What to do when AMD says an answering machine picked up."""

    HANG_UP = "hang_up"  # hang up and close the contact
    LEAVE_MESSAGE = "leave_message"  # wait for the beep, play the campaign's machine message, close the contact
    RETRY = "retry"  # hang up and try again per the machine retry rule


class IllegalCampaignTransition(ValueError):
    pass


def check_transition(old: str, new: str) -> CampaignState:
    """``new`` as a state if the table allows ``old -> new``; IllegalCampaignTransition otherwise."""
    try:
        source, target = CampaignState(old), CampaignState(new)
    except ValueError:
        raise IllegalCampaignTransition(f"state: unknown campaign state {new!r}") from None
    if target not in TRANSITIONS[source]:
        raise IllegalCampaignTransition(f"state: a {source} campaign cannot become {target}")
    return target


def policy_for(mode: str, params: dict[str, Any]) -> Policy:
    """The pacing policy of a dial mode; ``params['ratio']`` for fixed_ratio."""
    if mode == "preview":
        return Preview()
    if mode == "progressive":
        return Progressive()
    if mode == "fixed_ratio":
        ratio = params.get("ratio")
        if not isinstance(ratio, int | float) or ratio < 1:
            raise ValueError(f"dial_params.ratio: fixed_ratio needs a ratio >= 1, got {ratio!r}")
        return FixedRatio(float(ratio))
    if mode == "predictive":
        return PredictiveGuard()
    raise ValueError(f"dial_mode: {mode!r} is not one of {', '.join(DIAL_MODES)}")


def amd_calibration(params: dict[str, Any]) -> tuple[int, int] | None:
    """The operator's AMD override ``dial_params.amd_audit`` (audited live answers, of them called machines by
    AMD), or None when absent: the campaign then uses its own labelled samples (engine/dialler/amd_audit.py)."""
    audit = params.get("amd_audit")
    if audit is None:
        return None
    try:
        live, false_positives = int(audit["live"]), int(audit["false_positives"])
    except (TypeError, KeyError, ValueError):
        raise ValueError(
            "dial_params.amd_audit: needs {live: <audited live answers>, false_positives: <of them called machines>}"
        ) from None
    if not 0 <= false_positives <= live:
        raise ValueError(f"dial_params.amd_audit: need 0 <= false_positives ({false_positives}) <= live ({live})")
    return live, false_positives


def trunk_limits(params: dict[str, Any]) -> TrunkLimits:
    defaults = TrunkLimits()
    try:
        return TrunkLimits(
            max_channels=int(params.get("max_channels", defaults.max_channels)),
            calls_per_second=int(params.get("calls_per_second", defaults.calls_per_second)),
            lines_per_agent=float(params.get("lines_per_agent", defaults.lines_per_agent)),
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"dial_params: trunk limits: {exc}") from None


def _clock(value: str, field: str) -> time:
    try:
        return time.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"compliance.{field}: {value!r} is not a time such as 08:00") from None


def compliance_settings(raw: dict[str, Any]) -> ComplianceSettings:
    """ComplianceSettings from the stored JSON (every key optional; see docs/outbound.md)."""
    window = raw.get("window", {})
    defaults = CallingWindow()
    retries = dict(DEFAULT_RETRIES)
    for name, rule in raw.get("retries", {}).items():
        try:
            outcome = CallOutcome(name)
            retries[outcome] = RetryRule(timedelta(minutes=float(rule["minutes"])), int(rule["max_attempts"]))
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"compliance.retries.{name}: needs a known outcome, minutes and max_attempts") from None
    return ComplianceSettings(
        window=CallingWindow(
            start=_clock(window["start"], "window.start") if "start" in window else defaults.start,
            end=_clock(window["end"], "window.end") if "end" in window else defaults.end,
            weekdays=frozenset(window.get("weekdays", defaults.weekdays)),
        ),
        min_ring_seconds=float(raw.get("min_ring_seconds", 15)),
        abandon_quarantine=timedelta(hours=float(raw.get("abandon_quarantine_hours", 72))),
        retries=retries,
    )


def budget_settings(raw: dict[str, Any]) -> BudgetSettings:
    budget = raw.get("budget", {})
    defaults = BudgetSettings()
    try:
        rule = WindowRule(budget.get("rule", defaults.rule))
    except ValueError:
        raise ValueError(f"compliance.budget.rule: {budget.get('rule')!r} is not ftc_30d or ofcom_24h") from None
    return BudgetSettings(
        rule=rule,
        cap=float(budget.get("cap", defaults.cap)),
        target=float(budget.get("target", defaults.target)),
        count_amd_false_positives=bool(budget.get("count_amd_false_positives", True)),
    )


def validate(dial_mode: str, dial_params: dict[str, Any], compliance: dict[str, Any], amd_rule: str) -> None:
    """Raise ValueError naming the first bad field of a campaign's settings."""
    policy_for(dial_mode, dial_params)
    amd_calibration(dial_params)
    audit_settings(compliance)
    trunk_limits(dial_params)
    compliance_settings(compliance)
    budget_settings(compliance)
    if amd_rule not in {r.value for r in AmdRule}:
        raise ValueError(f"amd_rule: {amd_rule!r} is not one of {', '.join(r.value for r in AmdRule)}")

"""The regulator's abandon window: abandoned calls as a share of live-answered calls over a rolling window.

FTC style: rolling 30 days; Ofcom style: rolling 24 hours. The rate counts estimated AMD false positives
(people AMD hung up on) as abandoned live calls when the rule says so. Times are POSIX seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from engine.dialler.window import RollingTally


class WindowRule(StrEnum):
    FTC_30_DAYS = "ftc_30d"
    OFCOM_24_HOURS = "ofcom_24h"


WINDOW_SECONDS = {WindowRule.FTC_30_DAYS: 30 * 86400.0, WindowRule.OFCOM_24_HOURS: 86400.0}


@dataclass(frozen=True)
class BudgetSettings:
    """``cap`` is the legal limit; pacing aims at ``target`` (below the cap) and falls back to progressive once
    the window's budget to the cap is spent."""

    rule: WindowRule = WindowRule.FTC_30_DAYS
    cap: float = 0.03
    target: float = 0.0225
    count_amd_false_positives: bool = True

    def __post_init__(self) -> None:
        if not 0 < self.target <= self.cap < 1:
            raise ValueError(f"abandon budget needs 0 < target ({self.target}) <= cap ({self.cap}) < 1")


@dataclass(frozen=True)
class BudgetStatus:
    """The window at one instant. ``abandons`` and ``live`` include estimated AMD false positives."""

    live: float
    abandons: float
    rate: float
    cap: float
    target: float
    remaining_to_target: float  # abandons still affordable at the current live count before the target
    remaining_to_cap: float
    false_positive_per_live: float  # estimated hidden AMD false positives per detected live answer
    detected_abandons: int  # abandons without the AMD estimate
    spent: bool  # one more abandoned call would put the window over the cap: pacing must fall back to progressive


class AbandonBudget:
    """Counts of live answers and abandons in the campaign's rolling window."""

    def __init__(self, settings: BudgetSettings | None = None) -> None:
        self.settings = settings or BudgetSettings()
        self.span = WINDOW_SECONDS[self.settings.rule]
        self._window = RollingTally(self.span)  # live answers, flagged when abandoned

    def record_live(self, now: float, abandoned: bool = False) -> None:
        """A person answered (detected live); ``abandoned`` when no agent took the call in time."""
        self._window.add(now, abandoned)

    def status(self, now: float, amd_false_positive_rate: float = 0.0) -> BudgetStatus:
        """The window at ``now``; ``amd_false_positive_rate`` is P(AMD says machine | person), e.g. an upper bound."""
        detected_live, detected_abandons = self._window.counts(now)
        s = self.settings
        fp = amd_false_positive_rate if s.count_amd_false_positives else 0.0
        per_live = fp / (1.0 - fp) if fp < 1.0 else float("inf")
        hidden = detected_live * per_live
        live = detected_live + hidden
        abandons = detected_abandons + hidden
        rate = abandons / live if live else 0.0
        return BudgetStatus(
            live=live,
            abandons=abandons,
            rate=rate,
            cap=s.cap,
            target=s.target,
            remaining_to_target=s.target * live - abandons,
            remaining_to_cap=s.cap * live - abandons,
            false_positive_per_live=per_live,
            detected_abandons=detected_abandons,
            spent=s.cap * live - abandons < 1.0 - s.cap,
        )

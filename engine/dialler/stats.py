"""Live per-campaign statistics for pacing: outcome probabilities (decayed, per hour of day), empirical
ring-to-answer and handle-time distributions, AMD timing and false-positive bound, agents' states.

All times are POSIX seconds passed in explicitly; nothing reads a clock.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from engine.dialler.outcomes import CallOutcome

DIAL_OUTCOMES = (CallOutcome.LIVE, CallOutcome.MACHINE, CallOutcome.NO_ANSWER, CallOutcome.BUSY, CallOutcome.FAILED)
DEFAULT_PRIOR = {
    CallOutcome.LIVE: 0.2,
    CallOutcome.MACHINE: 0.15,
    CallOutcome.NO_ANSWER: 0.5,
    CallOutcome.BUSY: 0.1,
    CallOutcome.FAILED: 0.05,
}


class AgentState(StrEnum):
    READY = "ready"
    ON_CALL = "on_call"
    WRAP = "wrap"
    PAUSED = "paused"
    OFFLINE = "offline"


@dataclass(frozen=True)
class AgentStatus:
    """An agent's state, since when, and when the current handle (talk + wrap) began (None when not busy)."""

    state: AgentState
    since: float
    handle_started: float | None = None


def wilson_upper(successes: int, trials: int, z: float = 1.96) -> float:
    """Upper Wilson score bound of a binomial proportion (1.0 with no trials)."""
    if trials <= 0:
        return 1.0
    p = successes / trials
    denom = 1 + z * z / trials
    centre = p + z * z / (2 * trials)
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return min(1.0, (centre + spread) / denom)


class DecayingCounts:
    """Counts that halve every ``half_life`` seconds."""

    def __init__(self, half_life: float) -> None:
        self.half_life = half_life
        self.counts: dict[CallOutcome, float] = dict.fromkeys(DIAL_OUTCOMES, 0.0)
        self.at = 0.0

    def _decay(self, now: float) -> None:
        if now > self.at:
            factor = 0.5 ** ((now - self.at) / self.half_life)
            for key in self.counts:
                self.counts[key] *= factor
            self.at = now

    def add(self, key: CallOutcome, now: float) -> None:
        self._decay(now)
        self.counts[key] += 1.0

    def snapshot(self, now: float) -> dict[CallOutcome, float]:
        self._decay(now)
        return dict(self.counts)


class Empirical:
    """An empirical distribution over the last ``max_samples`` samples, with a 1-second CDF grid."""

    def __init__(self, max_samples: int) -> None:
        self.samples: deque[float] = deque(maxlen=max_samples)
        self._sorted: list[float] | None = None

    def add(self, value: float) -> None:
        self.samples.append(value)
        self._sorted = None

    def __len__(self) -> int:
        return len(self.samples)

    def sorted(self) -> list[float]:
        if self._sorted is None:
            self._sorted = sorted(self.samples)
        return self._sorted

    def cdf(self, x: float) -> float:
        """P(X <= x); 0.0 without samples."""
        data = self.sorted()
        return bisect.bisect_right(data, x) / len(data) if data else 0.0

    def mean(self, default: float = 0.0) -> float:
        return sum(self.samples) / len(self.samples) if self.samples else default

    def cdf_grid(self, upto: int) -> list[float]:
        """``[P(X <= s) for s in 0..upto]``, one pass over the sorted samples."""
        data = self.sorted()
        n = len(data)
        grid: list[float] = []
        i = 0
        for s in range(upto + 1):
            while i < n and data[i] <= s:
                i += 1
            grid.append(i / n if n else 0.0)
        return grid


@dataclass
class StatsSettings:
    """How quickly statistics forget, and what they assume before data arrives."""

    half_life_s: float = 3600.0
    hour_half_life_s: float = 7 * 86400.0
    prior_weight: float = 30.0
    max_samples: int = 1000
    time_zone: str = "UTC"
    prior: dict[CallOutcome, float] = field(default_factory=lambda: dict(DEFAULT_PRIOR))


class CampaignStats:
    """Everything pacing knows about one campaign's traffic and agents."""

    def __init__(self, settings: StatsSettings | None = None) -> None:
        self.settings = settings or StatsSettings()
        self._zone = ZoneInfo(self.settings.time_zone)
        self.recent = DecayingCounts(self.settings.half_life_s)
        self.hourly = [DecayingCounts(self.settings.hour_half_life_s) for _ in range(24)]
        self.ring = Empirical(self.settings.max_samples)  # dial-to-answer seconds, answered calls only
        self.rejected = Empirical(self.settings.max_samples)  # dial-to-end seconds of busy and failed calls
        self.handle = Empirical(self.settings.max_samples)  # talk + wrap seconds
        self.talk = Empirical(self.settings.max_samples)
        self.wrap = Empirical(self.settings.max_samples)
        self.amd_time = Empirical(self.settings.max_samples)
        self.amd_audited_live = 0
        self.amd_audited_false_positive = 0
        self.amd_false_positive_bound: float | None = None  # set by the AMD audit loop; wins over the counts
        self.agents: dict[str, AgentStatus] = {}
        self.version = 0

    def hour_of_day(self, now: float) -> int:
        return datetime.fromtimestamp(now, self._zone).hour

    def record_call(self, outcome: CallOutcome, now: float, ring_s: float | None = None) -> None:
        """One finished dial attempt; ``ring_s`` is how long it rang: dial to answer for answered calls (live or
        machine), dial to end for busy and failed ones (ignored for calls that rang out).

        An abandoned call counts as a live answer here (a person did answer).
        """
        key = CallOutcome.LIVE if outcome is CallOutcome.ABANDONED else outcome
        if key not in DIAL_OUTCOMES:
            raise ValueError(f"not a dial outcome: {outcome}")
        self.recent.add(key, now)
        self.hourly[self.hour_of_day(now)].add(key, now)
        if ring_s is not None and key in (CallOutcome.LIVE, CallOutcome.MACHINE):
            self.ring.add(ring_s)
        elif ring_s is not None and key in (CallOutcome.BUSY, CallOutcome.FAILED):
            self.rejected.add(ring_s)
        self.version += 1

    def record_handle(self, talk_s: float, wrap_s: float) -> None:
        self.handle.add(talk_s + wrap_s)
        self.talk.add(talk_s)
        self.wrap.add(wrap_s)
        self.version += 1

    def record_amd_decision(self, decision_s: float) -> None:
        self.amd_time.add(decision_s)

    def record_amd_audit(self, live: bool, classified_machine: bool) -> None:
        """One audited answered call: was it a person, and did AMD call it a machine?"""
        if live:
            self.amd_audited_live += 1
            self.amd_audited_false_positive += classified_machine

    def amd_false_positive_upper(self, z: float = 1.96) -> float:
        """Upper bound of P(AMD says machine | a person answered): the audit loop's when set, else the upper
        Wilson bound of the audited counts."""
        if self.amd_false_positive_bound is not None:
            return self.amd_false_positive_bound
        return wilson_upper(self.amd_audited_false_positive, self.amd_audited_live, z)

    def outcome_probabilities(self, now: float) -> dict[CallOutcome, float]:
        """Per-dial outcome probabilities: the last hours' counts shrunk toward this hour-of-day's history,
        which is itself shrunk toward the configured prior."""
        w = self.settings.prior_weight
        hour = self.hourly[self.hour_of_day(now)].snapshot(now)
        hour_total = sum(hour.values())
        base = {k: (hour[k] + w * self.settings.prior[k]) / (hour_total + w) for k in DIAL_OUTCOMES}
        recent = self.recent.snapshot(now)
        total = sum(recent.values())
        return {k: (recent[k] + w * base[k]) / (total + w) for k in DIAL_OUTCOMES}

    def set_agent(self, agent_id: str, state: AgentState, now: float) -> None:
        """Record an agent's state change; a handle starts on ON_CALL and ends when the agent leaves WRAP."""
        previous = self.agents.get(agent_id)
        started: float | None = None
        if state is AgentState.ON_CALL:
            started = now
        elif state is AgentState.WRAP and previous is not None:
            started = previous.handle_started if previous.handle_started is not None else now
        self.agents[agent_id] = AgentStatus(state, now, started)

    def time_in_state(self, agent_id: str, now: float) -> float:
        return now - self.agents[agent_id].since

    def count_agents(self, *states: AgentState) -> int:
        return sum(1 for status in self.agents.values() if status.state in states)

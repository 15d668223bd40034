"""Erlang C staffing: how many agents a queue needs to meet a service level."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Staffing:
    """The smallest staffing that meets the target, and what it achieves."""

    agents: int
    service_level: float
    asa: float
    traffic_erlangs: float
    occupancy: float


def erlang_c(agents: int, traffic: float) -> float:
    """Probability that a call has to wait (Erlang C), computed via the stable Erlang B recursion."""
    if agents <= traffic:
        return 1.0
    blocking = 1.0
    for k in range(1, agents + 1):
        blocking = traffic * blocking / (k + traffic * blocking)
    return agents * blocking / (agents - traffic * (1.0 - blocking))


def service_level(agents: int, traffic: float, aht: float, target_seconds: float) -> float:
    """Share of calls answered within ``target_seconds``."""
    if agents <= traffic:
        return 0.0
    return 1.0 - erlang_c(agents, traffic) * math.exp(-(agents - traffic) * target_seconds / aht)


def average_speed_of_answer(agents: int, traffic: float, aht: float) -> float:
    """Mean wait in seconds over all calls (infinite when the agents cannot keep up)."""
    if agents <= traffic:
        return math.inf
    return erlang_c(agents, traffic) * aht / (agents - traffic)


def agents_needed(
    calls: float, interval_seconds: float, aht: float, target_seconds: float, target_sl: float
) -> Staffing:
    """Fewest agents answering ``target_sl`` of ``calls`` per interval within ``target_seconds``.

    Example: 100 calls / 1800 s, AHT 180 s, 80 % in 20 s -> 14 agents, SL 0.888, ASA 7.84 s.
    """
    for name, value in (("calls", calls), ("target_seconds", target_seconds)):
        if value < 0:
            raise ValueError(f"agents_needed.{name}: must be >= 0, got {value!r}")
    for name, value in (("interval_seconds", interval_seconds), ("aht", aht)):
        if value <= 0:
            raise ValueError(f"agents_needed.{name}: must be > 0, got {value!r}")
    if not 0 < target_sl < 1:
        raise ValueError(f"agents_needed.target_sl: must be between 0 and 1 (exclusive), got {target_sl!r}")
    traffic = calls * aht / interval_seconds
    if traffic == 0:
        return Staffing(0, 1.0, 0.0, 0.0, 0.0)
    agents = math.floor(traffic) + 1
    while (level := service_level(agents, traffic, aht, target_seconds)) < target_sl:
        agents += 1
    return Staffing(agents, level, average_speed_of_answer(agents, traffic, aht), traffic, traffic / agents)

"""Contact-centre numbers from finished calls and the agent state log (pure).

Queue intervals: offered, answered (and within the service-level threshold), abandoned (and
within it: short abandons), service level, Asterisk's SL2, average speed of answer, average
talk time and the agents Erlang C says the interval needed. Agents: time per state, occupancy,
calls, talk, offers not answered, breaks by reason.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from engine.acd.erlang import agents_needed

WORKING = ("ready", "reserved", "on_call", "wrap_up")


@dataclass(frozen=True, slots=True)
class QueuedCallFact:
    """One call that was queued: when, how it ended (the CDR outcome), how long it waited
    (to the answer, or to the hang-up) and talked."""

    queue: str
    queued_at: datetime
    outcome: str
    wait_seconds: float
    talk_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class QueueInterval:
    queue: str
    start: datetime
    offered: int
    answered: int
    answered_in_sl: int
    abandoned: int
    abandoned_in_sl: int
    service_level: float | None
    service_level_sl2: float | None
    asa: float | None
    aht: float | None
    agents_needed: int | None


def queue_intervals(
    calls: Iterable[QueuedCallFact], *, interval: timedelta, sl_seconds: float, target_sl: float = 0.8
) -> list[QueueInterval]:
    """Per queue and interval (aligned to the epoch), by queue then time.

    ``service_level`` = answered within ``sl_seconds`` / (offered - abandoned within it): short
    abandons do not count against it. ``service_level_sl2`` (Asterisk's ServicelevelPerf2) =
    (answered + abandoned within it) / offered. Calls that left the queue otherwise (exits) count
    as offered only. ``agents_needed``: Erlang C for the interval's calls and AHT at ``target_sl``.
    """
    step = interval.total_seconds()
    if step <= 0:
        raise ValueError(f"interval: must be positive, got {interval}")
    groups: dict[tuple[str, datetime], list[QueuedCallFact]] = defaultdict(list)
    for call in calls:
        stamp = call.queued_at.timestamp()
        start = datetime.fromtimestamp(stamp - stamp % step, call.queued_at.tzinfo)
        groups[(call.queue, start)].append(call)
    rows = []
    for (queue, start), group in sorted(groups.items()):
        answered = [c for c in group if c.outcome == "answered"]
        abandoned = [c for c in group if c.outcome == "abandoned"]
        in_sl = sum(c.wait_seconds <= sl_seconds for c in answered)
        short = sum(c.wait_seconds <= sl_seconds for c in abandoned)
        offered = len(group)
        aht = sum(c.talk_seconds for c in answered) / len(answered) if answered else None
        rows.append(
            QueueInterval(
                queue=queue,
                start=start,
                offered=offered,
                answered=len(answered),
                answered_in_sl=in_sl,
                abandoned=len(abandoned),
                abandoned_in_sl=short,
                service_level=in_sl / (offered - short) if offered > short else None,
                service_level_sl2=(in_sl + short) / offered,
                asa=sum(c.wait_seconds for c in answered) / len(answered) if answered else None,
                aht=aht,
                agents_needed=agents_needed(offered, step, aht, sl_seconds, target_sl).agents if aht else None,
            )
        )
    return rows


@dataclass(frozen=True, slots=True)
class AgentPerformance:
    agent: str
    seconds_in: dict[str, float]
    occupancy: float | None
    calls: int
    talk_seconds: float
    offers: int
    offers_not_answered: int
    breaks: dict[str, int] = field(default_factory=dict)


def agent_performance(
    agent: str,
    states: Iterable[tuple[datetime, str, str | None]],
    calls: Iterable[float],
    *,
    until: datetime,
) -> AgentPerformance:
    """From the agent's state log ``(at, state, reason)`` (oldest first, up to ``until``) and the
    talk seconds of the calls they answered. Occupancy = (on_call + wrap_up) / working time."""
    seconds: Counter[str] = Counter()
    breaks: Counter[str] = Counter()
    offers = 0
    log = list(states)
    for (at, state, reason), following in zip(log, [*log[1:], (until, "", None)], strict=True):
        seconds[state] += max(0.0, (following[0] - at).total_seconds())
        offers += state == "reserved"
        if state == "break":
            breaks[reason or "unspecified"] += 1
    talks = list(calls)
    working = sum(seconds[s] for s in WORKING)
    return AgentPerformance(
        agent=agent,
        seconds_in=dict(seconds),
        occupancy=(seconds["on_call"] + seconds["wrap_up"]) / working if working else None,
        calls=len(talks),
        talk_seconds=sum(talks),
        offers=offers,
        offers_not_answered=max(0, offers - len(talks)),
        breaks=dict(breaks),
    )

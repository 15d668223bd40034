"""Contact-centre numbers from finished calls and the agent state log (pure).

Queue intervals: offered, answered (and within the service-level threshold), abandoned (and
within it: short abandons), service level, Asterisk's SL2, average speed of answer, average
talk, hold and wrap-up, average handle time and the agents Erlang C says the interval needed.
Agents: time per state, occupancy, calls, talk, hold, wrap-up, handle time, offers not answered,
breaks by reason.

Handle time (AHT) = talk + hold + wrap-up, where talk excludes hold: a CDR's talk time (bridge to
hang-up) is talk + hold, so AHT = mean(CDR talk time + wrap-up).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from engine.acd.erlang import agents_needed
from engine.acd.occupancy import AVAILABLE, BUSY

# Why an offer ended without the agent answering, as the ACD records it on the agent's next state;
# "cancelled" (the caller hung up, another ring_all agent answered) is not the agent's miss.
MISSED = frozenset({"no_answer", "busy", "rejected", "failed"})

StateEntry = tuple[datetime, str, str | None]


@dataclass(frozen=True, slots=True)
class QueuedCallFact:
    """One call that was queued: when, how it ended (the CDR outcome), how long it waited
    (to the answer, or to the hang-up), was bridged (``talk_seconds``, hold included), held and
    was wrapped up after."""

    queue: str
    queued_at: datetime
    outcome: str
    wait_seconds: float
    talk_seconds: float = 0.0
    hold_seconds: float = 0.0
    wrap_seconds: float = 0.0


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
    talk: float | None
    hold: float | None
    wrap: float | None
    aht: float | None
    agents_needed: int | None


def queue_intervals(
    calls: Iterable[QueuedCallFact], *, interval: timedelta, sl_seconds: float, target_sl: float = 0.8
) -> list[QueueInterval]:
    """Per queue and interval (aligned to the epoch), by queue then time.

    ``service_level`` = answered within ``sl_seconds`` / (offered - abandoned within it): short
    abandons do not count against it. ``service_level_sl2`` (Asterisk's ServicelevelPerf2) =
    (answered + abandoned within it) / offered. Calls that left the queue otherwise (exits) count
    as offered only. ``talk`` (hold excluded), ``hold``, ``wrap`` and ``aht`` (their sum) are means
    over answered calls. ``agents_needed``: Erlang C for the interval's calls and AHT at ``target_sl``.
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
        n = len(answered)
        hold = sum(c.hold_seconds for c in answered) / n if n else None
        talk = sum(c.talk_seconds for c in answered) / n - hold if n and hold is not None else None
        wrap = sum(c.wrap_seconds for c in answered) / n if n else None
        aht = talk + hold + wrap if talk is not None and hold is not None and wrap is not None else None
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
                asa=sum(c.wait_seconds for c in answered) / n if n else None,
                talk=talk,
                hold=hold,
                wrap=wrap,
                aht=aht,
                agents_needed=agents_needed(offered, step, aht, sl_seconds, target_sl).agents if aht else None,
            )
        )
    return rows


def wrap_up_spans(states: Iterable[StateEntry], until: datetime) -> list[tuple[datetime, float]]:
    """``(start, seconds)`` of every ``wrap_up`` in an agent's state log (oldest first, up to ``until``)."""
    log = list(states)
    return [
        (at, max(0.0, (following[0] - at).total_seconds()))
        for (at, state, _reason), following in zip(log, [*log[1:], (until, "", None)], strict=True)
        if state == "wrap_up"
    ]


def wrap_for_calls(bridged: Iterable[datetime], wraps: Iterable[tuple[datetime, float]]) -> list[float]:
    """One agent's wrap-up seconds after each of their calls, in the order given: the first wrap-up
    that starts at or after the call's bridge and before the agent's next bridge (0 when none)."""
    times = list(bridged)
    order = sorted(range(len(times)), key=times.__getitem__)
    spans = sorted(wraps)
    out = [0.0] * len(times)
    j = 0
    for k, i in enumerate(order):
        following = times[order[k + 1]] if k + 1 < len(order) else None
        while j < len(spans) and spans[j][0] < times[i]:
            j += 1
        if j < len(spans) and (following is None or spans[j][0] < following):
            out[i] = spans[j][1]
            j += 1
    return out


@dataclass(frozen=True, slots=True)
class AgentCallFact:
    """One call an agent answered: bridge to hang-up (hold included), time on hold, number of holds."""

    talk_seconds: float
    hold_seconds: float = 0.0
    holds: int = 0


@dataclass(frozen=True, slots=True)
class AgentPerformance:
    """``talk_seconds`` excludes hold; ``wrap_seconds`` is the time in wrap-up; ``aht`` = (talk +
    hold + wrap-up) / calls; ``breaks`` counts breaks and ``break_seconds`` sums them, by reason."""

    agent: str
    seconds_in: dict[str, float]
    occupancy: float | None
    calls: int
    talk_seconds: float
    hold_seconds: float
    holds: int
    wrap_seconds: float
    aht: float | None
    offers: int
    offers_not_answered: int
    breaks: dict[str, int] = field(default_factory=dict)
    break_seconds: dict[str, float] = field(default_factory=dict)


def agent_performance(
    agent: str,
    states: Iterable[StateEntry],
    calls: Iterable[AgentCallFact],
    *,
    until: datetime,
) -> AgentPerformance:
    """From the agent's state log ``(at, state, reason)`` (oldest first, up to ``until``) and the
    calls they answered. Occupancy = (on_call + wrap_up) / (logged-in time - break time), i.e.
    (talk + hold + wrap-up) / (ready + reserved + on_call + wrap_up)."""
    seconds: Counter[str] = Counter()
    breaks: Counter[str] = Counter()
    break_seconds: Counter[str] = Counter()
    offers = missed = 0
    log = list(states)
    for (at, state, reason), following in zip(log, [*log[1:], (until, "", None)], strict=True):
        span = max(0.0, (following[0] - at).total_seconds())
        seconds[state] += span
        offers += state == "reserved"
        missed += state == "reserved" and following[2] in MISSED
        if state == "break":
            breaks[reason or "unspecified"] += 1
            break_seconds[reason or "unspecified"] += span
    answered = list(calls)
    working = sum(seconds[s] for s in AVAILABLE)
    hold = sum(c.hold_seconds for c in answered)
    bridged = sum(c.talk_seconds for c in answered)
    return AgentPerformance(
        agent=agent,
        seconds_in=dict(seconds),
        occupancy=sum(seconds[s] for s in BUSY) / working if working else None,
        calls=len(answered),
        talk_seconds=bridged - hold,
        hold_seconds=hold,
        holds=sum(c.holds for c in answered),
        wrap_seconds=seconds["wrap_up"],
        aht=(bridged + seconds["wrap_up"]) / len(answered) if answered else None,
        offers=offers,
        offers_not_answered=missed,
        breaks=dict(breaks),
        break_seconds=dict(break_seconds),
    )

"""Read what the ACD reports need: queued calls from the CDRs (with the agent's wrap-up after each),
an agent's state log and the calls they handled (from the call segments)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.acd.reports import AgentCallFact, QueuedCallFact, StateEntry, wrap_for_calls, wrap_up_spans
from engine.store import segments
from engine.store.models import AgentStateChange, Call
from engine.store.segment_models import CallSegment
from engine.store.timestamps import utc, utcnow

WRAP_UP_HORIZON = timedelta(hours=1)
"""How far past the report's end a wrap-up after one of its calls is looked for."""


def queued_calls(
    session: Session, since: datetime, until: datetime, *, now: datetime | None = None
) -> list[QueuedCallFact]:
    """Calls queued in ``[since, until)``: wait to the answer (answered) or to the end (others); for
    answered calls, hold and the agent's wrap-up after the call (from the agent state log; a wrap-up
    still going on counts up to ``now``, default the current time)."""
    query = (
        select(Call)
        .where(Call.queued_at >= utc("since", since), Call.queued_at < utc("until", until))
        .where(Call.queue.is_not(None))
        .order_by(Call.queued_at)
    )
    rows = list(session.scalars(query))
    wraps = _wrap_ups(session, [c for c in rows if c.outcome == "answered"], until, now or utcnow())
    out = []
    for call in rows:
        assert call.queued_at is not None and call.queue is not None
        waited_until = call.bridged_at if call.outcome == "answered" and call.bridged_at else call.ended_at
        out.append(
            QueuedCallFact(
                queue=call.queue,
                queued_at=call.queued_at,
                outcome=str(call.outcome),
                wait_seconds=max(0.0, (waited_until - call.queued_at).total_seconds()),
                talk_seconds=call.talk_seconds or 0.0,
                hold_seconds=call.hold_seconds,
                wrap_seconds=wraps.get(call.id, 0.0),
            )
        )
    return out


def _wrap_ups(session: Session, answered: list[Call], until: datetime, now: datetime) -> dict[int, float]:
    """Call id -> the wrap-up its agent did after it (one not yet ended: so far, never past the horizon)."""
    by_agent: dict[str, list[Call]] = defaultdict(list)
    for call in answered:
        if call.agent_id and call.bridged_at:
            by_agent[call.agent_id].append(call)
    out: dict[int, float] = {}
    horizon = min(utc("until", until) + WRAP_UP_HORIZON, utc("now", now))
    for agent, agent_calls in by_agent.items():
        first = min(c.bridged_at for c in agent_calls if c.bridged_at)
        spans = wrap_up_spans(agent_states(session, agent, first, horizon), horizon)
        seconds = wrap_for_calls([c.bridged_at for c in agent_calls if c.bridged_at], spans)
        out.update(zip([c.id for c in agent_calls], seconds, strict=True))
    return out


def agent_ids(session: Session, since: datetime, until: datetime) -> list[str]:
    """Agents with a state change in ``[since, until)``."""
    query = select(AgentStateChange.agent_id).where(
        AgentStateChange.at >= utc("since", since), AgentStateChange.at < utc("until", until)
    )
    return sorted(set(session.scalars(query)))


def agent_states(session: Session, agent_id: str, since: datetime, until: datetime) -> list[StateEntry]:
    """The agent's ``(at, state, reason)`` in ``[since, until)``, led by the state they were in at ``since``."""
    before = session.scalars(
        select(AgentStateChange)
        .where(AgentStateChange.agent_id == agent_id, AgentStateChange.at < utc("since", since))
        .order_by(AgentStateChange.at.desc(), AgentStateChange.id.desc())
        .limit(1)
    ).first()
    rows = session.scalars(
        select(AgentStateChange)
        .where(AgentStateChange.agent_id == agent_id)
        .where(AgentStateChange.at >= utc("since", since), AgentStateChange.at < utc("until", until))
        .order_by(AgentStateChange.at, AgentStateChange.id)
    )
    lead = [(since, before.state, before.reason)] if before is not None else []
    return lead + [(r.at, r.state, r.reason) for r in rows]


def agent_calls(session: Session, agent_id: str, since: datetime, until: datetime) -> list[AgentCallFact]:
    """The calls the agent handled in ``[since, until)``: talk (hold included), hold, holds.

    From the call segments (docs/database.md): each call with a segment of the agent that started in
    the window, its segments summed (an agent who had the call twice counts it once), so an agent who
    took a transferred call counts it. Calls recorded without segments (before migration 0010, and
    manual dials) count from their CDR, for its ``agent_id``, bridged in the window."""
    per_call: dict[str, list[CallSegment]] = defaultdict(list)
    for segment in segments.agent_segments(session, agent_id, since, until):
        per_call[segment.call_uuid].append(segment)
    facts = [
        AgentCallFact(
            sum(s.talk_seconds for s in parts), sum(s.hold_seconds for s in parts), sum(s.hold_count for s in parts)
        )
        for parts in per_call.values()
    ]
    unsegmented = (
        select(Call)
        .where(Call.agent_id == agent_id)
        .where(Call.bridged_at >= utc("since", since), Call.bridged_at < utc("until", until))
        .where(~select(CallSegment.id).where(CallSegment.call_uuid == Call.uuid).exists())
    )
    return facts + [
        AgentCallFact(c.talk_seconds or 0.0, c.hold_seconds, c.hold_count) for c in session.scalars(unsegmented)
    ]

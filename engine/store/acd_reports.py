"""Read what the ACD reports need: queued calls from the CDRs, an agent's state log and talk."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.acd.reports import QueuedCallFact
from engine.store.models import AgentStateChange, Call
from engine.store.timestamps import utc


def queued_calls(session: Session, since: datetime, until: datetime) -> list[QueuedCallFact]:
    """Calls queued in ``[since, until)``: wait to the answer (answered) or to the end (others)."""
    query = (
        select(Call)
        .where(Call.queued_at >= utc("since", since), Call.queued_at < utc("until", until))
        .where(Call.queue.is_not(None))
        .order_by(Call.queued_at)
    )
    out = []
    for call in session.scalars(query):
        assert call.queued_at is not None and call.queue is not None
        waited_until = call.bridged_at if call.outcome == "answered" and call.bridged_at else call.ended_at
        out.append(
            QueuedCallFact(
                queue=call.queue,
                queued_at=call.queued_at,
                outcome=str(call.outcome),
                wait_seconds=max(0.0, (waited_until - call.queued_at).total_seconds()),
                talk_seconds=call.talk_seconds or 0.0,
            )
        )
    return out


def agent_ids(session: Session, since: datetime, until: datetime) -> list[str]:
    """Agents with a state change in ``[since, until)``."""
    query = select(AgentStateChange.agent_id).where(
        AgentStateChange.at >= utc("since", since), AgentStateChange.at < utc("until", until)
    )
    return sorted(set(session.scalars(query)))


StateEntry = tuple[datetime, str, str | None]


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


def agent_talk(session: Session, agent_id: str, since: datetime, until: datetime) -> list[float]:
    """Talk seconds of the calls the agent answered that were bridged in ``[since, until)``."""
    query = select(Call.talk_seconds).where(
        Call.agent_id == agent_id, Call.bridged_at >= utc("since", since), Call.bridged_at < utc("until", until)
    )
    return [t or 0.0 for t in session.scalars(query)]

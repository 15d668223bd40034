"""The append-only, time-stamped log of agent state changes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from engine.store.agents import get_agent
from engine.store.errors import NotFound
from engine.store.models import Agent, AgentStateChange
from engine.store.timestamps import utc, utcnow
from engine.store.validation import non_empty


def append_agent_state(
    session: Session, agent_id: str, state: str, *, reason: str | None = None, at: datetime | None = None
) -> AgentStateChange:
    """Log that agent *agent_id* entered *state* at *at* (default now, aware UTC).

    Raises NotFound for an unknown agent and InvalidInput for a blank state or naive *at*.
    """
    get_agent(session, agent_id)
    change = AgentStateChange(**agent_state_row(agent_id, state, reason=reason, at=utcnow() if at is None else at))
    session.add(change)
    session.flush()
    return change


def agent_state_row(agent_id: str, state: str, *, reason: str | None, at: datetime) -> dict[str, object]:
    """The checked column values of one state change; raises InvalidInput for a blank state or naive *at*."""
    return {
        "agent_id": agent_id,
        "state": non_empty("agent_state.state", state),
        "reason": reason,
        "at": utc("agent_state.at", at),
    }


def insert_agent_states(session: Session, rows: Sequence[dict[str, object]], known: set[str] | None = None) -> None:
    """Log many state changes (rows of :func:`agent_state_row`, kept in their order) with one statement
    and one query for their agents; raises NotFound naming the first unknown agent (nothing written).

    ``known``: agents already found by an earlier call, not asked again (found ones are added to it). The
    database writer keeps one: agents change state several times a call, and the query was a seventh of
    its work. An agent removed since may still log a change (its log outlives it anyway)."""
    if not rows:
        return
    known = set() if known is None else known
    wanted = {str(row["agent_id"]) for row in rows} - known
    if wanted:
        known.update(session.scalars(select(Agent.id).where(Agent.id.in_(wanted))))
    for row in rows:
        if row["agent_id"] not in known:
            raise NotFound("agent", row["agent_id"])
    session.connection().execute(insert(AgentStateChange.__table__), list(rows))  # Core: no ORM execute path


def list_agent_states(
    session: Session,
    agent_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[AgentStateChange]:
    """Agent *agent_id*'s state changes with ``since <= at < until``, oldest first.

    Works for removed agents too, whose log is kept.
    """
    query = select(AgentStateChange).where(AgentStateChange.agent_id == agent_id)
    if since is not None:
        query = query.where(AgentStateChange.at >= utc("since", since))
    if until is not None:
        query = query.where(AgentStateChange.at < utc("until", until))
    return list(session.scalars(query.order_by(AgentStateChange.at, AgentStateChange.id)))


def latest_states(session: Session, agent_ids: Iterable[str]) -> dict[str, AgentStateChange]:
    """Each of *agent_ids*' last logged state change (latest ``at``, then latest row); agents with no
    change logged are left out. One indexed query per agent: restart-time use only."""
    latest: dict[str, AgentStateChange] = {}
    for agent_id in agent_ids:
        query = (
            select(AgentStateChange)
            .where(AgentStateChange.agent_id == agent_id)
            .order_by(AgentStateChange.at.desc(), AgentStateChange.id.desc())
            .limit(1)
        )
        change = session.scalars(query).first()
        if change is not None:
            latest[agent_id] = change
    return latest

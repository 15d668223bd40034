"""The audit log of call-control and supervisor actions (hold, transfer, listen, force break...)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.store.acd_models import CallControlAction
from engine.store.timestamps import utcnow
from engine.store.validation import non_empty


def log_action(
    session: Session,
    actor: str,
    action: str,
    agent_id: str,
    *,
    result: str,
    call_uuid: str | None = None,
    detail: str | None = None,
) -> CallControlAction:
    """Record that *actor* did *action* to *agent_id* (and their call) now, with *result* ("ok" or the error)."""
    row = CallControlAction(
        at=utcnow(),
        actor=non_empty("call_control.actor", actor),
        action=non_empty("call_control.action", action),
        agent_id=non_empty("call_control.agent_id", agent_id),
        call_uuid=call_uuid,
        detail=detail,
        result=result[:255],
    )
    session.add(row)
    session.flush()
    return row


def list_actions(session: Session, *, agent_id: str | None = None, limit: int = 100) -> list[CallControlAction]:
    """The newest *limit* actions (of *agent_id* when given), newest first."""
    query = select(CallControlAction).order_by(CallControlAction.at.desc(), CallControlAction.id.desc())
    if agent_id is not None:
        query = query.where(CallControlAction.agent_id == agent_id)
    return list(session.scalars(query.limit(limit)))

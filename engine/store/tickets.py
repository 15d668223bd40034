"""Tickets (work orders): create, read, list, move through the lifecycle, overdue counts.

Every state change goes through :func:`engine.crm.lifecycle.transition` and is stored twice: as a
row of the ticket's event history and as an audit entry with the ticket before and after.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from engine.crm.lifecycle import DEFAULT_FOLLOW_UP_HOURS, TicketEvent, TicketState, follow_up_due, transition
from engine.store import audit
from engine.store.crm_fields import choice, optional_text, text, timestamp
from engine.store.crm_models import TICKET_CATEGORIES, TICKET_PRIORITIES, Ticket, TicketEventRow
from engine.store.customers import get_customer
from engine.store.errors import InvalidInput, NotFound, found
from engine.store.models import Interaction
from engine.store.timestamps import utcnow
from engine.store.visibility import CENTRE, NotVisible, Viewer

OPEN_STATES = (TicketState.ACCEPTED, TicketState.ASSIGNED, TicketState.IN_PROGRESS, TicketState.RESOLVED,
               TicketState.FOLLOW_UP)  # fmt: skip


def view(ticket: Ticket) -> dict[str, Any]:
    """The ticket as the API and the audit log show it."""
    return {
        "id": ticket.id,
        "number": f"{ticket.id:06d}",
        "customer_id": ticket.customer_id,
        "interaction_id": ticket.interaction_id,
        "title": ticket.title,
        "description": ticket.description,
        "category": ticket.category,
        "priority": ticket.priority,
        "state": str(ticket.state),
        "assignee": ticket.assignee,
        "team": ticket.team,
        "due_at": ticket.due_at,
        "follow_up_due_at": ticket.follow_up_due_at,
        "created_by": ticket.created_by,
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
    }


def create_ticket(
    session: Session,
    actor: str,
    *,
    title: str,
    category: str = "question",
    priority: str = "normal",
    description: str = "",
    customer_id: int | None = None,
    interaction_id: int | None = None,
    assignee: str | None = None,
    team: str | None = None,
    due_at: datetime | str | None = None,
) -> Ticket:
    """A new ``accepted`` ticket (``assigned`` at once when an assignee or team is given)."""
    if customer_id is not None:
        get_customer(session, customer_id)
    if interaction_id is not None and session.get(Interaction, interaction_id) is None:
        raise NotFound("interaction", interaction_id)
    ticket = Ticket(
        title=text("ticket.title", title, max_len=200),
        description=text("ticket.description", description, max_len=10_000, required=False),
        category=choice("ticket.category", category, TICKET_CATEGORIES),
        priority=choice("ticket.priority", priority, TICKET_PRIORITIES),
        state=TicketState.ACCEPTED,
        customer_id=customer_id,
        interaction_id=interaction_id,
        due_at=timestamp("ticket.due_at", due_at),
        created_by=actor,
    )
    session.add(ticket)
    session.flush()
    ticket.events.append(TicketEventRow(actor=actor, event="create", from_state=None, to_state=ticket.state))
    audit.record(session, actor, "ticket.create", "ticket", ticket.id, None, view(ticket))
    if assignee is not None or team is not None:
        apply_event(session, ticket.id, actor, TicketEvent.ASSIGN, assignee=assignee, team=team)
    session.flush()
    return ticket


def get_ticket(session: Session, ticket_id: int, *, viewer: Viewer = CENTRE) -> Ticket:
    """The ticket ``ticket_id``; raises NotFound, or NotVisible when it is out of ``viewer``'s scope."""
    ticket = found(session.get(Ticket, ticket_id), "ticket", ticket_id)
    if not viewer.sees_ticket(ticket.assignee, ticket.team):
        raise NotVisible(viewer.name, "ticket", ticket_id)
    return ticket


def apply_event(
    session: Session,
    ticket_id: int,
    actor: str,
    event: str,
    *,
    note: str = "",
    assignee: str | None = None,
    team: str | None = None,
    follow_up_hours: float = DEFAULT_FOLLOW_UP_HOURS,
    now: datetime | None = None,
    viewer: Viewer = CENTRE,
) -> Ticket:
    """Move ticket ``ticket_id`` by ``event``; raises IllegalTransition, NotFound, NotVisible (out of
    ``viewer``'s scope) or InvalidInput.

    ``assign`` needs an ``assignee`` or a ``team``; ``resolve`` sets the follow-up due time.
    """
    ticket = get_ticket(session, ticket_id, viewer=viewer)
    note = text("note", note, max_len=10_000, required=False)
    before = view(ticket)
    new_state = transition(ticket.id, ticket.state, event)
    now = now or utcnow()
    if event == TicketEvent.ASSIGN:
        assignee = optional_text("assignee", assignee, max_len=32)
        team = optional_text("team", team, max_len=64)
        if not assignee and not team:
            raise InvalidInput("assignee", assignee, "or team is needed to assign a ticket")
        ticket.assignee, ticket.team = assignee or None, team or ticket.team
    if event == TicketEvent.RESOLVE:
        ticket.follow_up_due_at = follow_up_due(now, follow_up_hours)
    ticket.events.append(
        TicketEventRow(actor=actor, event=str(event), from_state=ticket.state, to_state=new_state, note=note, at=now)
    )
    ticket.state, ticket.updated_at = new_state, now
    session.flush()
    audit.record(session, actor, f"ticket.{event}", "ticket", ticket.id, before, view(ticket))
    return ticket


def update_ticket(
    session: Session, ticket_id: int, actor: str, changes: dict[str, Any], *, viewer: Viewer = CENTRE
) -> Ticket:
    """Change a ticket's title, description, category, priority or due time (audited); NotVisible when
    the ticket is out of ``viewer``'s scope."""
    ticket = get_ticket(session, ticket_id, viewer=viewer)
    checks = {
        "title": lambda v: text("ticket.title", v, max_len=200),
        "description": lambda v: text("ticket.description", v, max_len=10_000, required=False),
        "category": lambda v: choice("ticket.category", v, TICKET_CATEGORIES),
        "priority": lambda v: choice("ticket.priority", v, TICKET_PRIORITIES),
        "due_at": lambda v: timestamp("ticket.due_at", v),
    }
    audit.audited_update(session, actor, ticket, changes, checks, action="ticket.update", entity="ticket", view=view)
    return ticket


def list_tickets(
    session: Session,
    *,
    viewer: Viewer = CENTRE,
    state: str | None = None,
    customer_id: int | None = None,
    overdue_at: datetime | None = None,
    limit: int = 100,
) -> list[Ticket]:
    """Tickets in ``viewer``'s scope, newest first (a work list: out-of-scope tickets are left out);
    ``overdue_at`` keeps the tickets overdue at that time."""
    query = select(Ticket).where(viewer.ticket_clause()).order_by(Ticket.id.desc()).limit(limit)
    if state is not None:
        query = query.where(Ticket.state == choice("state", state, [str(s) for s in TicketState]))
    if customer_id is not None:
        query = query.where(Ticket.customer_id == customer_id)
    if overdue_at is not None:
        query = query.where(_overdue(overdue_at))
    return list(session.scalars(query))


def customer_tickets(session: Session, viewer: Viewer, customer_id: int, limit: int = 5) -> list[dict[str, Any]]:
    """A customer's tickets that are not closed, newest first, as ``viewer`` may see them: in scope in
    full, others as references (the customer view and the screen pop)."""
    in_scope = case((viewer.ticket_clause(), True), else_=False)
    query = (
        select(Ticket, in_scope)
        .where(Ticket.customer_id == customer_id, Ticket.state != TicketState.CLOSED)
        .order_by(Ticket.id.desc())
        .limit(limit)
    )
    return [viewer.ticket_view(view(t), bool(full)) for t, full in session.execute(query)]


def overdue_count(session: Session, now: datetime) -> int:
    """How many tickets are overdue at ``now`` (the rule of :func:`engine.crm.lifecycle.is_overdue`)."""
    return session.scalar(select(func.count(Ticket.id)).where(_overdue(now))) or 0


def _overdue(now: datetime) -> Any:
    """SQL form of :func:`engine.crm.lifecycle.is_overdue`."""
    working = (TicketState.ACCEPTED, TicketState.ASSIGNED, TicketState.IN_PROGRESS)
    return or_(
        and_(Ticket.state.in_(working), Ticket.due_at.is_not(None), Ticket.due_at < now),
        and_(Ticket.state == TicketState.RESOLVED, Ticket.follow_up_due_at < now),
    )


def ticket_from_callback(session: Session, interaction: Interaction, caller: str) -> Ticket:
    """A ``callback`` ticket for a caller who left a voicemail or asked to be called back."""
    note = f"Call back {caller}."
    if interaction.recording_path:
        note += f" Recording: {interaction.recording_path}"
    return create_ticket(
        session,
        "ivr",
        title=f"Callback request from {caller}"[:200],
        category="callback",
        description=note,
        customer_id=interaction.customer_id,
        interaction_id=interaction.id,
        team=interaction.queue,
    )

"""CRM on customers and interactions: writes (update, merge duplicates, disposition and notes), each
audited with the record before and after in the caller's transaction, and the reads that show a
customer's history, each through a :class:`~engine.store.visibility.Viewer`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from engine.store import audit, customers, tickets
from engine.store.crm_fields import choice, optional_text, tags, text
from engine.store.crm_models import Ticket
from engine.store.errors import InvalidInput, NotFound, found
from engine.store.models import Customer, CustomerTier, Interaction, PhoneNumber
from engine.store.phones import to_e164
from engine.store.visibility import CENTRE, NotVisible, Viewer

DISPOSITION_PATTERN = "lowercase letters, digits and '_', at most 64"


def customer_view(customer: Customer) -> dict[str, Any]:
    """The customer as the API and the audit log show it."""
    return {
        "id": customer.id,
        "name": customer.name,
        "email": customer.email,
        "tier": str(customer.tier),
        "tags": list(customer.tags),
        "notes": customer.notes,
        "numbers": [phone.e164 for phone in customer.phone_numbers],
        "created_at": customer.created_at,
    }


def interaction_view(interaction: Interaction, ticket_ids: list[int]) -> dict[str, Any]:
    """An interaction with the tickets opened from it."""
    return {
        "id": interaction.id,
        "customer_id": interaction.customer_id,
        "call_uuid": interaction.call_uuid,
        "agent_id": interaction.agent_id,
        "queue": interaction.queue,
        "kind": str(interaction.kind),
        "started_at": interaction.started_at,
        "ended_at": interaction.ended_at,
        "disposition": interaction.disposition,
        "notes": interaction.notes,
        "recording_path": interaction.recording_path,
        "recording_purged_at": interaction.recording_purged_at,
        "ivr_path": list(interaction.ivr_path),
        "tickets": ticket_ids,
    }


def create_customer(session: Session, actor: str, fields: dict[str, Any], *, region: str) -> Customer:
    """A new customer from API fields (name, numbers, email, tier, tags, notes), checked and audited."""
    customer = customers.create_customer(session, text("customer.name", fields.get("name"), max_len=200), region=region)
    _apply(session, customer, {k: v for k, v in fields.items() if k != "name"}, region)
    audit.record(session, actor, "customer.create", "customer", customer.id, None, customer_view(customer))
    return customer


def update_customer(
    session: Session, customer_id: int, actor: str, changes: dict[str, Any], *, region: str
) -> Customer:
    """Change name, email, tier, tags, notes, or add ``numbers``; raises InvalidInput naming the field."""
    customer = customers.get_customer(session, customer_id)
    before = customer_view(customer)
    _apply(session, customer, changes, region)
    audit.record(session, actor, "customer.update", "customer", customer.id, before, customer_view(customer))
    return customer


def _apply(session: Session, customer: Customer, changes: dict[str, Any], region: str) -> None:
    """Check and set each of ``changes`` on ``customer``."""
    for key, value in changes.items():
        match key:
            case "name":
                customer.name = text("customer.name", value, max_len=200)
            case "email":
                customer.email = optional_text("customer.email", value, max_len=320)
            case "tier":
                customer.tier = CustomerTier(choice("customer.tier", value, [t.value for t in CustomerTier]))
            case "tags":
                customer.tags = tags("customer.tags", value)
            case "notes":
                customer.notes = text("customer.notes", value, max_len=10_000, required=False)
            case "numbers":
                if not isinstance(value, list):
                    raise InvalidInput("customer.numbers", value, "must be a list of phone numbers")
                known = {phone.e164 for phone in customer.phone_numbers}
                for number in value:
                    e164 = to_e164(text("customer.numbers", number, max_len=40), region, field="customer.numbers")
                    if e164 not in known:
                        customers.add_phone_number(session, customer.id, number, region=region)
            case _:
                raise InvalidInput(key, value, "is not a customer field (name, email, tier, tags, notes, numbers)")
    session.flush()


def merge_customers(session: Session, survivor_id: int, duplicate_id: int, actor: str) -> Customer:
    """Fold ``duplicate_id`` into ``survivor_id``: its numbers, interactions and tickets move to the
    survivor, tags are united, notes appended, missing email taken; the duplicate is deleted."""
    if survivor_id == duplicate_id:
        raise InvalidInput("duplicate_id", duplicate_id, "is the survivor itself")
    survivor, duplicate = customers.get_customer(session, survivor_id), customers.get_customer(session, duplicate_id)
    before = {"survivor": customer_view(survivor), "duplicate": customer_view(duplicate)}
    session.execute(update(PhoneNumber).where(PhoneNumber.customer_id == duplicate_id).values(customer_id=survivor_id))
    session.execute(update(Interaction).where(Interaction.customer_id == duplicate_id).values(customer_id=survivor_id))
    session.execute(update(Ticket).where(Ticket.customer_id == duplicate_id).values(customer_id=survivor_id))
    survivor.tags = list(dict.fromkeys([*survivor.tags, *duplicate.tags]))
    survivor.email = survivor.email or duplicate.email
    if duplicate.notes:
        survivor.notes = f"{survivor.notes}\n{duplicate.notes}".strip()
    if duplicate.tier == CustomerTier.vip:
        survivor.tier = CustomerTier.vip
    session.flush()
    session.expire(duplicate, ["phone_numbers"])
    session.delete(duplicate)
    session.flush()
    session.refresh(survivor)
    audit.record(session, actor, "customer.merge", "customer", survivor.id, before, customer_view(survivor))
    return survivor


def get_interaction(session: Session, interaction_id: int, *, viewer: Viewer = CENTRE) -> Interaction:
    """The interaction ``interaction_id``; raises NotFound, or NotVisible when out of ``viewer``'s scope."""
    return _in_scope(viewer, found(session.get(Interaction, interaction_id), "interaction", interaction_id))


def interaction_by_call(session: Session, call_uuid: str, *, viewer: Viewer = CENTRE) -> Interaction:
    """The interaction of call ``call_uuid``; raises NotFound, or NotVisible when out of ``viewer``'s scope."""
    interaction = session.scalar(select(Interaction).where(Interaction.call_uuid == call_uuid))
    if interaction is None:
        raise NotFound("interaction of call", call_uuid)
    return _in_scope(viewer, interaction)


def _in_scope(viewer: Viewer, interaction: Interaction) -> Interaction:
    if not viewer.sees_interaction(interaction.agent_id, interaction.queue):
        raise NotVisible(viewer.name, "interaction", interaction.id)
    return interaction


def tickets_of_interaction(session: Session, interaction_id: int) -> list[int]:
    """Ids of the tickets opened from an interaction."""
    return list(session.scalars(select(Ticket.id).where(Ticket.interaction_id == interaction_id).order_by(Ticket.id)))


def set_wrap_up(
    session: Session, interaction_id: int, actor: str, *, disposition: str | None = None, notes: str | None = None
) -> Interaction:
    """Record the agent's disposition code and notes on an interaction (audited)."""
    interaction = get_interaction(session, interaction_id)
    before = interaction_view(interaction, [])
    if disposition is not None:
        code = text("disposition", disposition, max_len=64)
        if not all(c.isascii() and (c.isalnum() or c == "_") and not c.isupper() for c in code):
            raise InvalidInput("disposition", disposition, f"must be {DISPOSITION_PATTERN}")
        interaction.disposition = code
    if notes is not None:
        interaction.notes = text("notes", notes, max_len=10_000, required=False)
    session.flush()
    audit.record(session, actor, "interaction.wrap_up", "interaction", interaction.id, before,
                 interaction_view(interaction, []))  # fmt: skip
    return interaction


def recent_interactions_all(
    session: Session, viewer: Viewer, *, agent_id: str | None = None, limit: int = 50
) -> list[Interaction]:
    """The newest interactions in ``viewer``'s scope (a work list), optionally of one agent."""
    query = select(Interaction).where(viewer.interaction_clause()).order_by(Interaction.id.desc()).limit(limit)
    if agent_id is not None:
        query = query.where(Interaction.agent_id == agent_id)
    return list(session.scalars(query))


def customer_interactions(
    session: Session, viewer: Viewer, customer_id: int, limit: int = 10
) -> list[tuple[Interaction, bool]]:
    """The customer's last ``limit`` interactions, newest first, each with whether it is in ``viewer``'s
    scope; raises NotFound for an unknown customer."""
    customers.get_customer(session, customer_id)
    query = (
        select(Interaction, case((viewer.interaction_clause(), True), else_=False))
        .where(Interaction.customer_id == customer_id)
        .order_by(Interaction.started_at.desc(), Interaction.id.desc())
        .limit(max(1, limit))
    )
    return [(i, bool(full)) for i, full in session.execute(query)]


def customer_detail(session: Session, viewer: Viewer, customer_id: int) -> dict[str, Any]:
    """A customer with their recent interactions and open tickets, as ``viewer`` may see them: the
    customer record in full (one view for whoever answers), other teams' work as references."""
    customer = customers.get_customer(session, customer_id)
    return {
        **customer_view(customer),
        "interactions": [
            viewer.interaction_view(interaction_view(i, []), full)
            for i, full in customer_interactions(session, viewer, customer.id)
        ],
        "open_tickets": tickets.customer_tickets(session, viewer, customer.id),
    }


def customer_pop(
    session: Session, number: str, *, region: str, history: int
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The customer owning ``number`` with their open tickets, and their last ``history`` interactions,
    for a screen pop or an IVR lookup; ``(None, [])`` for an unknown number.

    Read before anyone knows which agent will get the call, so items are complete and carry the
    columns the visibility rule tests (``agent``/``queue``, ``assignee``/``team``): the desktop feed
    shows them through the receiving viewer (:meth:`Viewer.screen_pop`)."""
    customer = customers.find_customer_by_number(session, number, region=region)
    if customer is None:
        return None, []
    past = [
        {"id": i.id, "at": i.started_at.isoformat(), "kind": str(i.kind), "agent": i.agent_id, "queue": i.queue,
         "disposition": i.disposition, "notes": i.notes}
        for i, _ in (customer_interactions(session, CENTRE, customer.id, history) if history > 0 else [])
    ]  # fmt: skip
    open_tickets = [
        {"id": t["id"], "number": t["number"], "title": t["title"], "state": t["state"], "priority": t["priority"],
         "assignee": t["assignee"], "team": t["team"]}
        for t in tickets.customer_tickets(session, CENTRE, customer.id)
    ]  # fmt: skip
    return {"id": customer.id, "name": customer.name, "tier": str(customer.tier), "open_tickets": open_tickets}, past

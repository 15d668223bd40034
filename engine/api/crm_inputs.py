"""The CRM routes' input models (bodies and query strings), one per route of ``engine/api/crm.py``.

Limits are the columns' (see :mod:`engine.api.inputs`); the store checks again what only it can
(a blank name, a disposition code's charset, a phone number's validity).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from engine.api.inputs import Body, Id, LimitQuery, Query, line, text
from engine.crm.lifecycle import TicketEvent, TicketState
from engine.store.crm_models import ROLES, TICKET_CATEGORIES, TICKET_PRIORITIES
from engine.store.models import CustomerTier

Role = Literal[ROLES]  # type: ignore[valid-type]
Category = Literal[TICKET_CATEGORIES]  # type: ignore[valid-type]
Priority = Literal[TICKET_PRIORITIES]  # type: ignore[valid-type]
Tier = Literal[tuple(t.value for t in CustomerTier)]  # type: ignore[valid-type]
Event = Literal[tuple(e.value for e in TicketEvent)]  # type: ignore[valid-type]
State = Literal[tuple(s.value for s in TicketState)]  # type: ignore[valid-type]

AgentId = Annotated[str, line(32, "tickets.assignee")]
Team = Annotated[str, line(64, "tickets.team")]
Number = Annotated[str, line(40, None)]  # as typed; stored normalised to E.164 (phone_numbers.e164, 20)
Tag = Annotated[str, line(40, "customers.tags")]
Tags = Annotated[list[Tag], Field(max_length=20)]
Numbers = Annotated[list[Number], Field(max_length=20)]


class LoginBody(Body):
    username: Annotated[str, line(64, "users.username")]
    password: Annotated[str, line(200, None)]  # only its hash is stored


class LogoutBody(Body):
    token: Annotated[str, line(100, None)]  # only its digest is stored


class UserBody(Body):
    username: Annotated[str, line(64, "users.username")]
    password: Annotated[str, line(200, None)]
    role: Role
    agent_id: Annotated[str, line(32, "users.agent_id")] | None = None
    team: Annotated[str, line(64, "users.team")] | None = None


class AuditQuery(LimitQuery):
    entity: Annotated[str, line(32, "audit_log.entity")] | None = None
    id: Annotated[str, line(64, "audit_log.entity_id")] | None = None


class NumberQuery(Query):
    number: Number


class CustomerBody(Body):
    name: Annotated[str, line(200, "customers.name")]
    numbers: Numbers = Field(default_factory=list)
    email: Annotated[str, line(320, "customers.email", min_length=0)] | None = None
    tier: Tier = "normal"
    tags: Tags = Field(default_factory=list)
    notes: Annotated[str, text(10_000, "customers.notes")] = ""


class CustomerPatch(Body):
    name: Annotated[str, line(200, "customers.name")] = None  # type: ignore[assignment]
    numbers: Numbers = Field(default_factory=list)
    email: Annotated[str, line(320, "customers.email", min_length=0)] | None = None
    tier: Tier = "normal"
    tags: Tags = Field(default_factory=list)
    notes: Annotated[str, text(10_000, "customers.notes")] = ""


class MergeBody(Body):
    duplicate_id: Id


class InteractionsQuery(LimitQuery):
    agent: Annotated[str, line(32, "interactions.agent_id")] | None = None


class WrapUpBody(Body):
    disposition: Annotated[str, line(64, "interactions.disposition")] | None = None
    notes: Annotated[str, text(10_000, "interactions.notes")] | None = None


class TicketsQuery(LimitQuery):
    state: State | None = None
    customer: Id | None = None
    overdue: Literal["0", "1"] = "0"


class TicketBody(Body):
    title: Annotated[str, line(200, "tickets.title")]
    category: Category = "question"
    priority: Priority = "normal"
    description: Annotated[str, text(10_000, "tickets.description")] = ""
    customer_id: Id | None = None
    interaction_id: Id | None = None
    assignee: AgentId | None = None
    team: Team | None = None
    due_at: AwareDatetime | None = None


class TicketPatch(Body):
    title: Annotated[str, line(200, "tickets.title")] = None  # type: ignore[assignment]
    description: Annotated[str, text(10_000, "tickets.description")] = None  # type: ignore[assignment]
    category: Category = None  # type: ignore[assignment]
    priority: Priority = None  # type: ignore[assignment]
    due_at: AwareDatetime | None = None


class TicketEventBody(Body):
    event: Event
    note: Annotated[str, text(10_000, "ticket_events.note")] = ""
    assignee: AgentId | None = None
    team: Team | None = None
    follow_up_hours: Annotated[float, Field(gt=0, le=24 * 365)] | None = None


class ServiceLevelQuery(Query):
    threshold: Annotated[int, Field(ge=0, le=86_400)] = 20


class KbQuery(LimitQuery):
    q: Annotated[str, line(200, None, min_length=0)] = ""  # a search, not stored
    limit: Annotated[int, Field(ge=1, le=500)] = 10


class KbBody(Body):
    question: Annotated[str, line(500, "kb_articles.question")]
    answer: Annotated[str, text(10_000, "kb_articles.answer", min_length=1)]
    tags: Tags = Field(default_factory=list)


class KbPatch(Body):
    question: Annotated[str, line(500, "kb_articles.question")] = None  # type: ignore[assignment]
    answer: Annotated[str, text(10_000, "kb_articles.answer", min_length=1)] = None  # type: ignore[assignment]
    tags: Tags = Field(default_factory=list)

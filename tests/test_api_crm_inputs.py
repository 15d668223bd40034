"""engine/api/crm_inputs.py over HTTP: each CRM input model behind an echo route, as the router checks it
before a handler runs. Lengths are the database columns' (read from the schema, not from the models);
choices are the documented ones (docs/crm.md)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from engine.api import crm_inputs as I
from engine.api.http import Request, Router
from engine.store.models import Base
from tests.api_client import ADMIN, TOKENS, serve

BODIES = [I.LoginBody, I.LogoutBody, I.UserBody, I.CustomerBody, I.CustomerPatch, I.MergeBody, I.WrapUpBody,
          I.TicketBody, I.TicketPatch, I.TicketEventBody, I.KbBody, I.KbPatch]  # fmt: skip
QUERIES = [I.AuditQuery, I.NumberQuery, I.InteractionsQuery, I.TicketsQuery, I.ServiceLevelQuery, I.KbQuery]


def _echo(router: Router) -> None:
    def echo(req: Request) -> Any:
        model = req.input if req.input is not None else req.params
        return model.model_dump(mode="json", exclude_unset=True, by_alias=True)

    for model in BODIES:
        router.route("POST", f"/t/{model.__name__}", body=model)(echo)
    for model in QUERIES:
        router.route("GET", f"/t/{model.__name__}", query=model)(echo)


@pytest.fixture(scope="module")
def api():
    with serve([_echo], TOKENS) as api:
        yield api


def _length(column: str) -> int:
    table, _, name = column.partition(".")
    return Base.metadata.tables[table].c[name].type.length  # type: ignore[attr-defined]


def _post(api, model: type[BaseModel], body: Any):
    return api.call("POST", f"/t/{model.__name__}", ADMIN, body)


# ---- what fits is taken as given --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "body"),
    [
        (I.LoginBody, {"username": "u" * _length("users.username"), "password": "p" * 200}),
        (I.UserBody, {"username": "ada", "password": "s3cret-pass", "role": "agent",
                      "agent_id": "1" * _length("users.agent_id")}),
        (I.CustomerBody, {"name": "n" * _length("customers.name"), "numbers": ["+44 20 7946 0018"] * 20, "tier": "vip",
                          "tags": ["t" * 40] * 20, "notes": "line one\nline two\tend"}),
        (I.CustomerPatch, {"tier": "normal"}),
        (I.WrapUpBody, {"disposition": "d" * _length("interactions.disposition"), "notes": "called back\r\n"}),
        (I.TicketBody, {"title": "t" * _length("tickets.title"), "category": "complaint", "priority": "urgent",
                        "due_at": "2026-11-23T10:00:00+08:00", "customer_id": 2**31 - 1,
                        "team": "x" * _length("tickets.team")}),
        (I.TicketPatch, {"due_at": None}),
        (I.TicketEventBody, {"event": "resolve", "follow_up_hours": 24 * 365}),
        (I.TicketEventBody, {"event": "follow_up", "follow_up_hours": 0.5}),
        (I.KbBody, {"question": "q" * _length("kb_articles.question"), "answer": "a"}),
    ],
)  # fmt: skip
def test_a_body_within_the_columns_and_choices_is_accepted_unchanged(api, model, body) -> None:
    answer = _post(api, model, body)
    assert answer.status == 200, answer.body
    assert answer.body == body or model is I.TicketBody  # TicketBody's due_at comes back normalised
    if model is I.TicketBody:
        assert answer.body["due_at"] == "2026-11-23T10:00:00+08:00" and answer.body["title"] == body["title"]


@pytest.mark.parametrize("role", ["admin", "supervisor", "agent"])
def test_every_documented_role_is_a_user_role(api, role: str) -> None:
    assert _post(api, I.UserBody, {"username": "u", "password": "p", "role": role}).status == 200


@pytest.mark.parametrize("event", ["assign", "start", "resolve", "follow_up", "close", "reopen", "comment"])
def test_every_documented_ticket_event_is_accepted(api, event: str) -> None:
    assert _post(api, I.TicketEventBody, {"event": event}).status == 200


# ---- what does not fit is refused naming the field ----------------------------------------------------


@pytest.mark.parametrize(
    ("model", "body", "field"),
    [
        (I.LoginBody, {"username": "u" * (_length("users.username") + 1), "password": "p"}, "body.username"),
        (I.LoginBody, {"username": "grace"}, "body.password"),
        (I.LoginBody, {"username": "grace", "password": "p\r\nq"}, "body.password"),
        (I.LogoutBody, {"token": "t" * 101}, "body.token"),
        (I.UserBody, {"username": "u", "password": "p", "role": "root"}, "body.role"),
        (I.UserBody, {"username": "u", "password": "p", "role": "agent", "team": "t" * (_length("users.team") + 1)},
         "body.team"),
        (I.CustomerBody, {"name": ""}, "body.name"),
        (I.CustomerBody, {"name": "Ada", "tier": "gold"}, "body.tier"),
        (I.CustomerBody, {"name": "Ada", "numbers": ["1"] * 21}, "body.numbers"),
        (I.CustomerBody, {"name": "Ada", "numbers": ["0207\n946"]}, "body.numbers.0"),
        (I.CustomerBody, {"name": "Ada", "tags": ["ok", "t" * 41]}, "body.tags.1"),
        (I.CustomerBody, {"name": "Ada", "notes": "a\x00b"}, "body.notes"),
        (I.CustomerBody, {"name": "Ada", "notes": "n" * 10_001}, "body.notes"),
        (I.CustomerPatch, {"name": None}, "body.name"),
        (I.MergeBody, {"duplicate_id": 0}, "body.duplicate_id"),
        (I.MergeBody, {"duplicate_id": 2**31}, "body.duplicate_id"),
        (I.WrapUpBody, {"disposition": "sold\nout"}, "body.disposition"),
        (I.TicketBody, {"title": "t" * (_length("tickets.title") + 1)}, "body.title"),
        (I.TicketBody, {"title": "x", "category": "rant"}, "body.category"),
        (I.TicketBody, {"title": "x", "priority": "meh"}, "body.priority"),
        (I.TicketBody, {"title": "x", "due_at": "2026-11-23T10:00:00"}, "body.due_at"),
        (I.TicketBody, {"title": "x", "due_at": "tomorrow"}, "body.due_at"),
        (I.TicketBody, {"title": "x", "assignee": "a" * (_length("tickets.assignee") + 1)}, "body.assignee"),
        (I.TicketBody, {"title": "x", "interaction_id": -1}, "body.interaction_id"),
        (I.TicketPatch, {"category": None}, "body.category"),
        (I.TicketEventBody, {"event": "escalate"}, "body.event"),
        (I.TicketEventBody, {"event": "resolve", "follow_up_hours": 0}, "body.follow_up_hours"),
        (I.TicketEventBody, {"event": "resolve", "follow_up_hours": 24 * 365 + 1}, "body.follow_up_hours"),
        (I.KbBody, {"question": "q", "answer": ""}, "body.answer"),
        (I.KbBody, {"question": "q\tq", "answer": "a"}, "body.question"),
        (I.KbPatch, {"tags": ["t"] * 21}, "body.tags"),
    ],
)  # fmt: skip
def test_a_body_beyond_its_column_or_choices_is_400_naming_the_field(api, model, body, field) -> None:
    answer = _post(api, model, body)
    assert answer.error == (400, field), answer.body
    assert answer.body["error"].startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("model", "query", "field"),
    [
        (I.AuditQuery, "entity=" + "e" * (_length("audit_log.entity") + 1), "query.entity"),
        (I.AuditQuery, "limit=501", "query.limit"),
        (I.NumberQuery, "", "query.number"),
        (I.NumberQuery, "number=" + "1" * 41, "query.number"),
        (I.InteractionsQuery, "agent=" + "a" * (_length("interactions.agent_id") + 1), "query.agent"),
        (I.TicketsQuery, "state=lost", "query.state"),
        (I.TicketsQuery, "customer=abc", "query.customer"),
        (I.TicketsQuery, "overdue=yes", "query.overdue"),
        (I.ServiceLevelQuery, "threshold=86401", "query.threshold"),
        (I.KbQuery, "q=" + "q" * 201, "query.q"),
        (I.KbQuery, "limit=0", "query.limit"),
    ],
)
def test_a_query_beyond_its_bounds_is_400_naming_the_parameter(api, model, query: str, field: str) -> None:
    assert api.call("GET", f"/t/{model.__name__}?{query}", ADMIN).error == (400, field)


def test_query_values_arrive_typed(api) -> None:
    got = api.call("GET", "/t/TicketsQuery?state=in_progress&customer=7&overdue=1&limit=500", ADMIN).body
    assert got == {"state": "in_progress", "customer": 7, "overdue": "1", "limit": 500}
    assert api.call("GET", "/t/ServiceLevelQuery?threshold=0", ADMIN).body == {"threshold": 0}

"""The CRM's HTTP JSON API: login and users, customers, interactions, tickets, knowledge base, audit.

Every handler runs in one database transaction: the change and its audit entry commit together.
Authorisation: what a caller may read is decided by the store, through the caller's
:class:`~engine.store.visibility.Viewer` (admins and supervisors: everything; an agent: their own
and their team's work in full, other teams' work as references, docs/crm.md). An agent wraps up
only their own calls and can assign tickets only to themselves or their team. Store errors map to
400 (bad field), 403 (another team's record), 404 (unknown record) and 409 (conflict, illegal
ticket transition); every message names the field or record.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel
from sqlalchemy import and_, case, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from engine.api import crm_inputs as I
from engine.api.auth import identity
from engine.api.http import ApiError, Request, Router
from engine.config.model import Crm
from engine.crm.lifecycle import TicketEvent
from engine.crm.login_throttle import LoginThrottle
from engine.metrics import Metrics
from engine.store import audit, customers, kb, tickets, users
from engine.store.crm_customers import (
    create_customer,
    customer_detail,
    customer_view,
    get_interaction,
    interaction_by_call,
    interaction_view,
    merge_customers,
    recent_interactions_all,
    set_wrap_up,
    tickets_of_interaction,
    update_customer,
)
from engine.store.crm_fields import text
from engine.store.crm_models import Ticket
from engine.store.errors import InvalidInput, NotFound
from engine.store.models import Call, Interaction
from engine.store.timestamps import utcnow
from engine.store.users import Identity
from engine.store.visibility import Viewer

if TYPE_CHECKING:
    from engine.runtime.call_session import CallTrace

log = logging.getLogger(__name__)
ANY = ("admin", "supervisor", "agent")
STAFF = ("admin", "supervisor")


class Engine(Protocol):
    """What the CRM API needs from the running engine."""

    sessions: sessionmaker[Session]
    metrics: Metrics
    call_recorded: list[Callable[[CallTrace], None]]


def module(engine: Engine, *, region: str, settings: Crm) -> Callable[[Router], None]:
    """The CRM's ``register`` for ``make_app(modules=...)``; also turns callback requests into tickets
    and exports the overdue-ticket gauge."""
    sessions, metrics = engine.sessions, engine.metrics
    throttle = LoginThrottle(
        settings.login_max_failures, settings.login_failure_window_seconds, settings.login_lockout_seconds
    )

    def overdue() -> float:
        try:
            with sessions() as s:
                return tickets.overdue_count(s, utcnow())
        except SQLAlchemyError:
            log.exception("overdue tickets: database unavailable")
            return float("nan")  # a failed scrape of one gauge must not break /metrics

    metrics.tickets_overdue.set_function(overdue)

    def on_call(trace: CallTrace) -> None:
        if trace.kind != "callback":
            return
        try:
            with sessions.begin() as s:
                ticket = tickets.ticket_from_callback(s, interaction_by_call(s, trace.uuid), trace.caller)
        except (SQLAlchemyError, NotFound, InvalidInput):
            log.exception("call %s: callback request recorded, but no ticket could be opened", trace.uuid)
            return
        metrics.tickets_created.labels(ticket.category).inc()

    engine.call_recorded.append(on_call)

    def register(router: Router) -> None:
        _routes(router, _Context(sessions, metrics, region, settings.follow_up_hours, throttle))

    return register


@dataclass(frozen=True)
class _Context:
    sessions: sessionmaker[Session]
    metrics: Metrics
    region: str
    follow_up: float
    throttle: LoginThrottle


def _routes(router: Router, ctx: _Context) -> None:
    sessions, metrics, region, follow_up = ctx.sessions, ctx.metrics, ctx.region, ctx.follow_up

    Model = type[BaseModel] | None

    def route(
        method: str, pattern: str, *roles: str, body: Model = None, query: Model = None
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register a handler ``fn(req, s, who, **groups)`` run in one transaction, with its input models;
        store errors are mapped to statuses at the edge (``engine.api.app.STATUS_OF``)."""

        def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(fn)
            def handler(req: Request, **groups: Any) -> Any:
                with sessions.begin() as s:
                    who = identity(req, s, *roles) if roles else Identity("anonymous", "none")
                    return _jsonable(fn(req, s, who, **groups))

            return router.route(method, pattern, body=body, query=query, open=not roles)(handler)

        return wrap

    # ---- login and users ------------------------------------------------------------------------

    @route("POST", "/api/login", body=I.LoginBody)
    def login(req: Request, s: Session, who: Identity) -> Any:
        """Exchange a username and password for a session token (the one endpoint without a token)."""
        username = text("username", req.body.get("username"), max_len=64)
        password = text("password", req.body.get("password"), max_len=200)
        now = time.monotonic()
        wait = ctx.throttle.retry_after(username, now)
        if wait is not None:
            metrics.logins.labels("locked").inc()
            raise ApiError(
                429,
                f"too many failed logins for {username!r}; try again in {math.ceil(wait)} s",
                [("Retry-After", str(math.ceil(wait)))],
            )
        found = users.login(s, username, password)
        if found is None:
            metrics.logins.labels("failed").inc()
            if ctx.throttle.failed(username, now):
                log.warning("login: %r locked for %.0f s after repeated failures", username, ctx.throttle.lockout)
            raise ApiError(401, "unknown user or wrong password")
        ctx.throttle.succeeded(username)
        metrics.logins.labels("ok").inc()
        token, user = found
        return {"token": token, "username": user.username, "role": user.role, "agent": user.agent_id, "team": user.team}

    @route("POST", "/api/logout", *ANY, body=I.LogoutBody)
    def logout(req: Request, s: Session, who: Identity) -> Any:
        """Revoke the caller's own session ``token`` (given in the body)."""
        token = text("token", req.body.get("token"), max_len=100)
        owner = users.identity_for_session(s, token)
        if owner is None or owner.name != who.name:
            raise ApiError(403, "you can only revoke your own session")
        users.logout(s, token)
        return {"ok": True}

    @route("GET", "/api/me", *ANY)
    def me(req: Request, s: Session, who: Identity) -> Any:
        """Who the token belongs to."""
        return {"name": who.name, "role": who.role, "agent": who.agent, "team": who.team}

    @route("POST", "/api/users", "admin", body=I.UserBody)
    def create_user(req: Request, s: Session, who: Identity) -> Any:
        """Add a user (admin only); agents need ``agent_id``."""
        b = req.body
        user = users.create_user(
            s, who.name, b.get("username"), b.get("password"), b.get("role"), agent_id=b.get("agent_id"),
            team=b.get("team"),
        )  # fmt: skip
        return {"id": user.id, "username": user.username, "role": user.role, "agent": user.agent_id, "team": user.team}

    @route("GET", "/api/audit", *STAFF, query=I.AuditQuery)
    def audit_log(req: Request, s: Session, who: Identity) -> Any:
        """The newest audit entries, optionally ``?entity=ticket&id=7``."""
        entity, entity_id = _q(req, "entity"), _q(req, "id")
        return [
            {"id": e.id, "at": e.at, "actor": e.actor, "action": e.action, "entity": e.entity,
             "entity_id": e.entity_id, "before": e.before, "after": e.after}
            for e in audit.entries(s, entity=entity, entity_id=entity_id, limit=_limit(req))
        ]  # fmt: skip

    # ---- customers ------------------------------------------------------------------------------

    @route("GET", "/api/customers", *ANY, query=I.NumberQuery)
    def find_customer(req: Request, s: Session, who: Identity) -> Any:
        """Look a customer up by ``?number=`` in any local or international form."""
        number = text("number", _q(req, "number") or "", max_len=40)
        customer = customers.find_customer_by_number(s, number, region=region)
        if customer is None:
            raise ApiError(404, f"no customer has number {number!r}")
        return customer_detail(s, Viewer.of(who), customer.id)

    @route("POST", "/api/customers", *ANY, body=I.CustomerBody)
    def new_customer(req: Request, s: Session, who: Identity) -> Any:
        """Add a customer: name, numbers, email, tier, tags, notes."""
        return customer_view(create_customer(s, who.name, req.body, region=region))

    @route("GET", r"/api/customers/(?P<cid>\d+)", *ANY)
    def get_customer(req: Request, s: Session, who: Identity, cid: str) -> Any:
        """A customer with their recent interactions and open tickets."""
        return customer_detail(s, Viewer.of(who), int(cid))

    @route("PATCH", r"/api/customers/(?P<cid>\d+)", *ANY, body=I.CustomerPatch)
    def patch_customer(req: Request, s: Session, who: Identity, cid: str) -> Any:
        """Change name, email, tier, tags, notes or add numbers."""
        return customer_view(update_customer(s, int(cid), who.name, req.body, region=region))

    @route("POST", r"/api/customers/(?P<cid>\d+)/merge", *STAFF, body=I.MergeBody)
    def merge(req: Request, s: Session, who: Identity, cid: str) -> Any:
        """Merge ``duplicate_id`` into this customer (supervisors and admins)."""
        return customer_view(merge_customers(s, int(cid), _int(req.body, "duplicate_id"), who.name))

    # ---- interactions ---------------------------------------------------------------------------

    @route("GET", "/api/interactions", *ANY, query=I.InteractionsQuery)
    def list_interactions(req: Request, s: Session, who: Identity) -> Any:
        """The newest interactions (``?agent=``); an agent sees their own and their team's queues'."""
        rows = recent_interactions_all(s, Viewer.of(who), agent_id=_q(req, "agent"), limit=_limit(req))
        return [interaction_view(i, tickets_of_interaction(s, i.id)) for i in rows]

    @route("GET", r"/api/interactions/(?P<iid>\d+)", *ANY)
    def get_one_interaction(req: Request, s: Session, who: Identity, iid: str) -> Any:
        """One interaction with its linked tickets."""
        interaction = get_interaction(s, int(iid), viewer=Viewer.of(who))
        return interaction_view(interaction, tickets_of_interaction(s, interaction.id))

    @route("GET", r"/api/calls/(?P<uuid>[0-9A-Za-z-]{1,64})/interaction", *ANY)
    def call_interaction(req: Request, s: Session, who: Identity, uuid: str) -> Any:
        """The interaction recorded for call ``uuid`` (once the call has ended)."""
        interaction = interaction_by_call(s, uuid, viewer=Viewer.of(who))
        return interaction_view(interaction, tickets_of_interaction(s, interaction.id))

    @route("POST", r"/api/interactions/(?P<iid>\d+)/wrap_up", *ANY, body=I.WrapUpBody)
    def wrap_up(req: Request, s: Session, who: Identity, iid: str) -> Any:
        """Set the disposition code and notes of an interaction (an agent: only their own calls)."""
        interaction = _own_interaction(s, who, get_interaction(s, int(iid)))
        set_wrap_up(s, interaction.id, who.name, disposition=req.body.get("disposition"), notes=req.body.get("notes"))
        return interaction_view(interaction, tickets_of_interaction(s, interaction.id))

    # ---- tickets --------------------------------------------------------------------------------

    @route("GET", "/api/tickets", *ANY, query=I.TicketsQuery)
    def list_tickets(req: Request, s: Session, who: Identity) -> Any:
        """Tickets (``?state=``, ``?customer=``, ``?overdue=1``); an agent sees theirs and their team's."""
        rows = tickets.list_tickets(
            s,
            viewer=Viewer.of(who),
            state=_q(req, "state"),
            customer_id=int(c) if (c := _q(req, "customer")) and c.isdigit() else None,
            overdue_at=utcnow() if _q(req, "overdue") == "1" else None,
            limit=_limit(req),
        )
        return [tickets.view(t) for t in rows]

    @route("POST", "/api/tickets", *ANY, body=I.TicketBody)
    def create_ticket(req: Request, s: Session, who: Identity) -> Any:
        """Open a ticket: title, category, priority, description, customer_id, interaction_id,
        assignee or team, due_at."""
        b = dict(req.body)
        _may_assign(who, b.get("assignee"), b.get("team"))
        if who.role == "agent" and b.get("assignee") is None and b.get("team") is None:
            b["assignee"] = who.agent  # an agent's own ticket: theirs until they hand it over
        ticket = tickets.create_ticket(
            s, who.name, title=b.get("title"), category=b.get("category", "question"),
            priority=b.get("priority", "normal"), description=b.get("description", ""),
            customer_id=_int(b, "customer_id", optional=True), interaction_id=_int(b, "interaction_id", optional=True),
            assignee=b.get("assignee"), team=b.get("team"), due_at=b.get("due_at"),
        )  # fmt: skip
        metrics.tickets_created.labels(ticket.category).inc()
        return tickets.view(ticket)

    @route("GET", r"/api/tickets/(?P<tid>\d+)", *ANY)
    def get_ticket(req: Request, s: Session, who: Identity, tid: str) -> Any:
        """A ticket with its full event history."""
        ticket = tickets.get_ticket(s, int(tid), viewer=Viewer.of(who))
        return {**tickets.view(ticket), "events": [
            {"at": e.at, "actor": e.actor, "event": e.event, "from": e.from_state, "to": e.to_state, "note": e.note}
            for e in ticket.events
        ]}  # fmt: skip

    @route("PATCH", r"/api/tickets/(?P<tid>\d+)", *ANY, body=I.TicketPatch)
    def patch_ticket(req: Request, s: Session, who: Identity, tid: str) -> Any:
        """Change title, description, category, priority or due_at."""
        return tickets.view(tickets.update_ticket(s, int(tid), who.name, req.body, viewer=Viewer.of(who)))

    @route("POST", r"/api/tickets/(?P<tid>\d+)/events", *ANY, body=I.TicketEventBody)
    def ticket_event(req: Request, s: Session, who: Identity, tid: str) -> Any:
        """Move a ticket: ``event`` (assign, start, resolve, follow_up, close, reopen, comment), ``note``,
        ``assignee``/``team`` for assign, ``follow_up_hours`` for resolve."""
        tickets.get_ticket(s, int(tid), viewer=Viewer.of(who))  # 403 before anything about the request
        b = req.body
        event = text("event", b.get("event"), max_len=16)
        if event == TicketEvent.ASSIGN:
            _may_assign(who, b.get("assignee"), b.get("team"))
        hours = req.input.follow_up_hours or follow_up
        ticket = tickets.apply_event(
            s, int(tid), who.name, event, note=b.get("note", ""), assignee=b.get("assignee"), team=b.get("team"),
            follow_up_hours=hours, viewer=Viewer.of(who),
        )  # fmt: skip
        metrics.ticket_events.labels(event).inc()
        return tickets.view(ticket)

    @route("GET", "/api/reports/tickets", *STAFF)
    def ticket_report(req: Request, s: Session, who: Identity) -> Any:
        """Tickets by state and category, and how many are overdue now."""
        by_state = dict(s.execute(select(Ticket.state, func.count()).group_by(Ticket.state)).all())
        by_category = dict(s.execute(select(Ticket.category, func.count()).group_by(Ticket.category)).all())
        return {
            "by_state": {str(k): v for k, v in by_state.items()},
            "by_category": by_category,
            "overdue": tickets.overdue_count(s, utcnow()),
        }

    @route("GET", "/api/reports/service_level", *STAFF, query=I.ServiceLevelQuery)
    def service_level(req: Request, s: Session, who: Identity) -> Any:
        """Per queue since midnight UTC: calls, answered within ``?threshold=`` seconds (default 20), percent."""
        threshold = req.params.threshold
        since = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
        fast = func.sum(case((and_(Call.outcome == "answered", Call.wait_seconds <= threshold), 1), else_=0))
        rows = s.execute(
            select(Call.queue, func.count(Call.id), fast)
            .where(Call.queue.is_not(None), Call.created_at >= since)
            .group_by(Call.queue)
        ).all()
        return {
            queue: {"calls": n, "answered_in_threshold": int(ok or 0), "percent": round(100 * int(ok or 0) / n, 1)}
            for queue, n, ok in rows
        }

    # ---- knowledge base -------------------------------------------------------------------------

    @route("GET", "/api/kb", *ANY, query=I.KbQuery)
    def kb_search(req: Request, s: Session, who: Identity) -> Any:
        """Full-text search ``?q=`` (best first); without ``q`` the newest articles."""
        return [kb.article_view(a) for a in kb.search(s, _q(req, "q") or "", limit=_limit(req, 10))]

    @route("GET", r"/api/kb/(?P<aid>\d+)", *ANY)
    def kb_get(req: Request, s: Session, who: Identity, aid: str) -> Any:
        """One article."""
        return kb.article_view(kb.get_article(s, int(aid)))

    @route("POST", "/api/kb", *STAFF, body=I.KbBody)
    def kb_create(req: Request, s: Session, who: Identity) -> Any:
        """Add an article: question, answer, tags."""
        b = req.body
        return kb.article_view(kb.create_article(s, who.name, b.get("question"), b.get("answer"), b.get("tags")))

    @route("PATCH", r"/api/kb/(?P<aid>\d+)", *STAFF, body=I.KbPatch)
    def kb_patch(req: Request, s: Session, who: Identity, aid: str) -> Any:
        """Change an article's question, answer or tags."""
        return kb.article_view(kb.update_article(s, int(aid), who.name, req.body))

    # ---- an agent's own numbers -----------------------------------------------------------------

    @route("GET", r"/api/agents/(?P<agent_id>[^/]+)/stats", *ANY)
    def agent_stats(req: Request, s: Session, who: Identity, agent_id: str) -> Any:
        """Today's (UTC) answered calls, talk time and dispositions, and open tickets of one agent."""
        if who.role == "agent" and who.agent != agent_id:
            raise ApiError(403, f"agent {who.agent} may not read agent {agent_id}'s stats")
        since = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
        calls_today = s.execute(
            select(func.count(Call.id), func.coalesce(func.sum(Call.talk_seconds), 0)).where(
                Call.agent_id == agent_id, Call.created_at >= since
            )
        ).one()
        dispositions = s.execute(
            select(Interaction.disposition, func.count())
            .where(Interaction.agent_id == agent_id, Interaction.started_at >= since)
            .group_by(Interaction.disposition)
        ).all()
        open_tickets = s.scalar(
            select(func.count(Ticket.id)).where(Ticket.assignee == agent_id, Ticket.state.in_(tickets.OPEN_STATES))
        )
        return {
            "agent": agent_id,
            "day": date.today().isoformat(),
            "calls": calls_today[0],
            "talk_seconds": round(float(calls_today[1]), 1),
            "dispositions": {d or "none": n for d, n in dispositions},
            "open_tickets": open_tickets,
        }


def _may_assign(who: Identity, assignee: Any, team: Any) -> None:
    """An agent may assign only to themselves or to their own team."""
    if who.role != "agent":
        return
    if assignee is not None and assignee != who.agent:
        raise ApiError(403, f"{who.name} may not act for agent {assignee!r}")
    if team is not None and team != who.team:
        raise ApiError(403, f"{who.name} may not assign to team {team!r}")


def _own_interaction(s: Session, who: Identity, interaction: Interaction) -> Interaction:
    """An agent may only wrap up the interactions of their own calls (reading is the viewer's scope)."""
    if who.role == "agent" and interaction.agent_id != who.agent:
        raise ApiError(403, f"{who.name} may not act on agent {interaction.agent_id}'s interaction {interaction.id}")
    return interaction


def _q(req: Request, name: str) -> str | None:
    values = req.query.get(name)
    return values[0] if values else None


def _limit(req: Request, default: int = 50) -> int:
    raw = _q(req, "limit")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= 500:
        raise InvalidInput("limit", raw, "must be an integer from 1 to 500")
    return int(raw)


def _int(body: dict[str, Any], name: str, *, optional: bool = False) -> Any:
    value = body.get(name)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(name, value, "must be an integer id")
    return value


def _jsonable(data: Any) -> Any:
    """Timestamps as ISO 8601 strings."""
    if isinstance(data, dict):
        return {k: _jsonable(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_jsonable(v) for v in data]
    return data.isoformat() if hasattr(data, "isoformat") and not isinstance(data, str) else data

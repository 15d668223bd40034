"""Who may see what of the CRM: the one visibility policy, as a :class:`Viewer` every read takes.

The policy (docs/crm.md, "Visibility"; docs/security.md, "Visibility"):

- a **customer** record (name, numbers, e-mail, tier, tags, notes) is one shared view for whoever
  answers the customer's call;
- a **ticket** is *in scope* for a viewer when it is assigned to the viewer's agent or to one of the
  viewer's teams; an **interaction** (and the recordings of its call) when the viewer's agent had the
  call or the call was queued to one of the viewer's teams (teams are named like the queues they
  answer, as callback tickets already are);
- admins and supervisors are **centre-wide**: everything is in scope;
- in scope: the record in full. Out of scope: only that it exists (a *reference*: id, ticket
  number, title, state, kind, team/queue, dates, ``"restricted": true``) wherever it appears in a
  customer's view (customer detail, screen pop); never its description, notes, comments,
  disposition, IVR path or recording. Reading an out-of-scope record directly, or acting on it,
  raises :class:`NotVisible` (HTTP 403), and work lists (tickets, interactions) hold only what is in
  scope.

The rule exists twice, once as SQL (``*_clause``, for queries) and once in Python (``sees_*``, for
records already in memory such as a screen pop on its way to a desktop); both test the same columns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, true

from engine.store.crm_models import Ticket
from engine.store.errors import StoreError
from engine.store.models import Interaction
from engine.store.users import Identity

CENTRE_WIDE_ROLES = frozenset({"admin", "supervisor"})

TICKET_REFERENCE = ("id", "number", "customer_id", "title", "state", "team", "created_at", "updated_at")
"""What a viewer sees of a ticket out of their scope."""

INTERACTION_REFERENCE = ("id", "customer_id", "kind", "queue", "started_at", "ended_at", "at")
"""What a viewer sees of an interaction out of their scope (``at``: its start, in a screen pop)."""


class NotVisible(StoreError, PermissionError):
    """A record exists but is out of the viewer's scope; the message names the viewer and the record."""

    def __init__(self, viewer: str, entity: str, key: object) -> None:
        super().__init__(f"{viewer} may not read {entity} {key} (another team's work)")
        self.entity = entity
        self.key = key


@dataclass(frozen=True)
class Viewer:
    """Who is reading: ``name`` (for messages), ``role``, their ACD ``agent`` id and ``teams``;
    ``everything`` for centre-wide viewers (admins, supervisors, the engine itself)."""

    name: str
    role: str
    agent: str | None = None
    teams: frozenset[str] = field(default_factory=frozenset)
    everything: bool = False

    @classmethod
    def of(cls, who: Identity) -> Viewer:
        """The viewer behind an authenticated identity (the one place roles map to scopes)."""
        teams = frozenset({who.team}) if who.team else frozenset()
        return cls(who.name, who.role, who.agent, teams, everything=who.role in CENTRE_WIDE_ROLES)

    @classmethod
    def agent_of(cls, agent_id: str, team: str | None) -> Viewer:
        """An agent's viewer (e.g. the desktop feed of ``agent_id``)."""
        return cls.of(Identity(f"agent:{agent_id}", "agent", agent_id, team))

    # ---- the rule, as SQL -----------------------------------------------------------------------

    def ticket_clause(self) -> ColumnElement[bool]:
        """SQL: the ticket row is in scope."""
        return true() if self.everything else _owned(Ticket.assignee, Ticket.team, self.agent, self.teams)

    def interaction_clause(self) -> ColumnElement[bool]:
        """SQL: the interaction row is in scope."""
        if self.everything:
            return true()
        return _owned(Interaction.agent_id, Interaction.queue, self.agent, self.teams)

    # ---- the same rule, in Python ---------------------------------------------------------------

    def sees_ticket(self, assignee: str | None, team: str | None) -> bool:
        """The ticket with this assignee and team is in scope."""
        return self.everything or _owns(assignee, team, self.agent, self.teams)

    def sees_interaction(self, agent_id: str | None, queue: str | None) -> bool:
        """The interaction (or recording) of this agent and queue is in scope."""
        return self.everything or _owns(agent_id, queue, self.agent, self.teams)

    # ---- views ----------------------------------------------------------------------------------

    def ticket_view(self, view: dict[str, Any], in_scope: bool) -> dict[str, Any]:
        """A ticket's view in full, or its reference when out of scope."""
        return view if in_scope else _reference(view, TICKET_REFERENCE)

    def interaction_view(self, view: dict[str, Any], in_scope: bool) -> dict[str, Any]:
        """An interaction's view in full, or its reference when out of scope."""
        return view if in_scope else _reference(view, INTERACTION_REFERENCE)

    def screen_pop(self, pop: dict[str, Any]) -> dict[str, Any]:
        """A screen pop as this viewer may see it: other teams' history and tickets as references.

        Pop items carry the columns the rule tests (interactions: ``agent``/``queue``; tickets:
        ``assignee``/``team``, see :func:`engine.store.crm_customers.customer_pop`). An item
        without them is not known to be in scope, so it is shown as a reference."""
        out = dict(pop)
        if isinstance(pop.get("last_interactions"), list):
            out["last_interactions"] = [self._pop_interaction(i) for i in pop["last_interactions"]]
        if isinstance(pop.get("open_tickets"), list):
            out["open_tickets"] = [self._pop_ticket(t) for t in pop["open_tickets"]]
        if isinstance(pop.get("customer"), dict) and isinstance(pop["customer"].get("open_tickets"), list):
            out["customer"] = {**pop["customer"], "open_tickets": [self._pop_ticket(t) for t in
                                                                   pop["customer"]["open_tickets"]]}  # fmt: skip
        return out

    def _pop_interaction(self, item: Any) -> Any:
        if not isinstance(item, dict):
            return item
        in_scope = self.everything or ("agent" in item and "queue" in item and
                                        self.sees_interaction(item["agent"], item["queue"]))  # fmt: skip
        return self.interaction_view(item, in_scope)

    def _pop_ticket(self, item: Any) -> Any:
        if not isinstance(item, dict):
            return item
        in_scope = self.everything or ("assignee" in item and "team" in item and
                                        self.sees_ticket(item["assignee"], item["team"]))  # fmt: skip
        return self.ticket_view(item, in_scope)


CENTRE = Viewer("engine", "system", everything=True)
"""The engine's own reads (IVR lookups, CLI): everything is in scope."""


def _owned(agent_col: Any, team_col: Any, agent: str | None, teams: Iterable[str]) -> ColumnElement[bool]:
    mine = agent_col == agent if agent else false()
    ours = and_(team_col.is_not(None), team_col.in_(sorted(teams))) if teams else false()
    return or_(mine, ours)


def _owns(agent_value: str | None, team_value: str | None, agent: str | None, teams: frozenset[str]) -> bool:
    return bool(agent and agent_value == agent) or (team_value is not None and team_value in teams)


def _reference(view: dict[str, Any], keep: tuple[str, ...]) -> dict[str, Any]:
    return {**{k: view[k] for k in keep if k in view}, "restricted": True}

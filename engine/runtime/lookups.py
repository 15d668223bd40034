"""What calls look up in the CRM while they run: the caller's screen pop and the IVR's ``lookup`` actions.

Both answer from the database; while it is unavailable they answer empty (counted in
``hotline_db_read_failures_total{read}``) and the call goes on without.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from engine.metrics import Metrics
from engine.store import crm_customers, tickets
from engine.store.errors import NotFound
from engine.store.writer import degraded


class Lookups:
    """The CRM lookups of sessions, callbacks and manual dials."""

    def __init__(self, sessions: sessionmaker[Session], metrics: Metrics, *, region: str, history: int) -> None:
        """``region``: how local numbers are read (``calls.region``); ``history``: interactions in a pop."""
        self.sessions, self.metrics, self.region, self.history = sessions, metrics, region, history

    def customer_pop(self, number: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """The caller's customer and history, complete: each desktop feed shows it through its viewer.
        An empty pop while the database is unavailable (counted): the call goes on without."""
        with degraded(self.metrics, "customer_pop"), self.sessions() as s:
            return crm_customers.customer_pop(s, number, region=self.region, history=self.history)
        return None, []

    def lookup(self, kind: str, key: str) -> dict:
        """IVR lookups: ``customer`` and ``open_tickets`` by caller number, ``ticket_status`` by ticket number."""
        if kind == "customer":
            customer, _ = self.customer_pop(key)
            return customer or {}
        if kind == "open_tickets":
            customer, _ = self.customer_pop(key)
            found = customer["open_tickets"] if customer else []
            return {"count": len(found), "latest": found[0]} if found else {}
        if kind == "ticket_status" and key.isdigit():
            with degraded(self.metrics, "ticket_status"), self.sessions() as s:
                try:
                    ticket = tickets.get_ticket(s, int(key))
                except NotFound:
                    return {}
                status = str(ticket.state).replace("_", " ")
                return {"status": status, "updated": ticket.updated_at.date().isoformat(), "title": ticket.title}
        return {}

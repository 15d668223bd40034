"""The CRM lookups calls make (engine/runtime/lookups.py) against the test's database: the screen pop and
the IVR's ``lookup`` kinds, and what they answer while the database cannot be reached."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.metrics import Metrics
from engine.runtime.lookups import Lookups
from engine.store import customers, tickets
from engine.store.db import make_engine, session_factory
from engine.store.migrate import upgrade

pytestmark = pytest.mark.db

ADA = "+442079460018"


@pytest.fixture
def lookups(db_url: str):
    upgrade(db_url)
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    yield Lookups(sessions, Metrics(), region="GB", history=5)
    engine.dispose()


def test_the_pop_and_the_ivr_lookups_read_the_customer_and_their_tickets(lookups: Lookups) -> None:
    with lookups.sessions.begin() as s:
        ada = customers.create_customer(s, "Ada", region="GB", numbers=[ADA])
        first = tickets.create_ticket(s, "ivr", title="Broken router", customer_id=ada.id)
        second = tickets.create_ticket(s, "ivr", title="Bill too high", customer_id=ada.id)
        ada_id, first_id, second_id = ada.id, first.id, second.id
    customer, _history = lookups.customer_pop(ADA)
    assert customer is not None and (customer["id"], customer["name"]) == (ada_id, "Ada")
    assert lookups.lookup("customer", ADA)["id"] == ada_id
    found = lookups.lookup("open_tickets", ADA)
    assert found["count"] == 2 and found["latest"]["id"] in (first_id, second_id)
    status = lookups.lookup("ticket_status", str(first_id))
    assert (status["title"], status["status"]) == ("Broken router", "accepted")  # a new one
    assert lookups.lookup("ticket_status", "999999") == {}
    assert lookups.lookup("ticket_status", "1; drop table") == {}  # not a ticket number: nothing is asked
    assert lookups.lookup("customer", "+442000000000") == {} and lookups.lookup("open_tickets", "+4420") == {}
    assert lookups.lookup("weather", ADA) == {}


def test_without_the_database_the_call_goes_on_with_empty_answers_counted(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'missing' / 'hotline.db'}")  # its directory does not exist
    metrics = Metrics()
    lookups = Lookups(session_factory(engine), metrics, region="GB", history=5)
    assert lookups.customer_pop(ADA) == (None, [])
    assert lookups.lookup("open_tickets", ADA) == {} and lookups.lookup("ticket_status", "12") == {}
    assert metrics.value("hotline_db_read_failures_total", read="customer_pop") == 2
    assert metrics.value("hotline_db_read_failures_total", read="ticket_status") == 1
    engine.dispose()

"""Customer updates, duplicate merges and interaction wrap-up, all audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from engine.store import audit, calls, customers, tickets
from engine.store.crm_customers import customer_view, merge_customers, set_wrap_up, update_customer
from engine.store.errors import Conflict, InvalidInput, NotFound

pytestmark = pytest.mark.db
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def _call(session: Session, uuid: str, customer_id: int) -> int:
    record = calls.CallRecord(uuid, "x", "4000", T0, T0 + timedelta(seconds=5), "answered", agent_id="1001")
    return calls.record_finished_call(session, record, customer_id=customer_id)[1].id


@pytest.mark.parametrize("form", ["13900139000", "+86 139 0013 9000", "008613900139000", "+8613900139000"])
def test_lookup_by_any_number_form(session: Session, form: str) -> None:
    c = customers.create_customer(session, "Ada", region="CN", numbers=["139-0013-9000"])
    assert customers.find_customer_by_number(session, form, region="CN") is c


def test_update_stores_unicode_and_metacharacters_faithfully_and_audits(session: Session) -> None:
    c = customers.create_customer(session, "Ada", region="CN", numbers=["13900139000"])
    name = "王小明'; DROP TABLE customers; -- 😀 \u202eevil"
    update_customer(
        session, c.id, "user:sup", {"name": name, "tier": "vip", "tags": ["a", "b"], "numbers": ["13900139009"]},
        region="CN",
    )  # fmt: skip
    session.expire_all()
    again = customers.get_customer(session, c.id)
    assert again.name == name and again.tier == "vip" and again.tags == ["a", "b"]
    assert customer_view(again)["numbers"] == ["+8613900139000", "+8613900139009"]
    entry = audit.entries(session, entity="customer", entity_id=c.id)[0]
    assert (entry.actor, entry.before["name"], entry.after["name"]) == ("user:sup", "Ada", name)


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"name": ""}, "customer.name"), ({"tier": "gold"}, "customer.tier"), ({"tags": "x"}, "customer.tags"),
     ({"notes": "a\x00b"}, "customer.notes"), ({"owner": 1}, "owner"), ({"numbers": ["abc"]}, "customer.numbers")],
)  # fmt: skip
def test_bad_updates_name_the_field(session: Session, changes: dict, field: str) -> None:
    c = customers.create_customer(session, "Ada", region="CN")
    with pytest.raises(InvalidInput, match=field):
        update_customer(session, c.id, "admin", changes, region="CN")


def test_merge_moves_numbers_interactions_and_tickets_to_the_survivor(session: Session) -> None:
    keep = customers.create_customer(session, "Ada", region="CN", numbers=["13900139000"], tags=["a"])
    dup = customers.create_customer(
        session, "Ada L.", region="CN", numbers=["13900139001"], tags=["b"], email="ada@x.org", tier="vip", notes="n"
    )
    interaction = _call(session, "u1", dup.id)
    ticket = tickets.create_ticket(session, "admin", title="t", customer_id=dup.id)
    merged = merge_customers(session, keep.id, dup.id, "user:sup")
    session.expire_all()
    assert customer_view(merged)["numbers"] == ["+8613900139000", "+8613900139001"]
    assert (merged.email, merged.tier, merged.tags, merged.notes) == ("ada@x.org", "vip", ["a", "b"], "n")
    assert customers.find_customer_by_number(session, "13900139001", region="CN").id == keep.id
    assert [i.id for i in customers.recent_interactions(session, keep.id)] == [interaction]
    assert tickets.get_ticket(session, ticket.id).customer_id == keep.id
    with pytest.raises(NotFound):
        customers.get_customer(session, dup.id)
    entry = audit.entries(session, entity="customer", entity_id=keep.id)[0]
    assert entry.action == "customer.merge" and entry.before["duplicate"]["name"] == "Ada L."
    with pytest.raises(InvalidInput):
        merge_customers(session, keep.id, keep.id, "admin")


def test_wrap_up_stores_disposition_and_notes(session: Session) -> None:
    c = customers.create_customer(session, "Ada", region="CN")
    interaction_id = _call(session, "u2", c.id)
    set_wrap_up(session, interaction_id, "agent:1001", disposition="resolved_first_call", notes="说明 ok")
    entry = audit.entries(session, entity="interaction")[0]
    assert entry.after["disposition"] == "resolved_first_call" and entry.after["notes"] == "说明 ok"
    with pytest.raises(InvalidInput, match="disposition"):
        set_wrap_up(session, interaction_id, "agent:1001", disposition="Bad Code;")


def test_number_owned_by_another_customer_conflicts(session: Session) -> None:
    customers.create_customer(session, "A", region="CN", numbers=["13900139000"])
    b = customers.create_customer(session, "B", region="CN")
    with pytest.raises(Conflict):
        update_customer(session, b.id, "admin", {"numbers": ["13900139000"]}, region="CN")

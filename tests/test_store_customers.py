"""Customer repository: creation, phone lookup in any form, recent interactions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from engine.store.customers import (
    add_phone_number,
    create_customer,
    find_customer_by_number,
    get_customer,
    recent_interactions,
)
from engine.store.errors import Conflict, InvalidInput, NotFound
from engine.store.models import CustomerTier, Interaction, InteractionKind, PhoneNumber

pytestmark = pytest.mark.db


def test_local_and_e164_caller_numbers_find_the_same_customer(session: Session) -> None:
    created = create_customer(session, "Li Lei", region="CN", numbers=["139 0013 9000"], tier="vip")
    session.commit()
    for caller in ("13900139000", "+8613900139000", "008613900139000"):
        found = find_customer_by_number(session, caller, region="CN")
        assert found is not None
        assert found.id == created.id
    assert found.tier is CustomerTier.vip
    assert [phone.e164 for phone in found.phone_numbers] == ["+8613900139000"]


def test_unknown_or_anonymous_callers_match_nobody(session: Session) -> None:
    create_customer(session, "Li Lei", region="CN", numbers=["13900139000"])
    assert find_customer_by_number(session, "13900139001", region="CN") is None
    assert find_customer_by_number(session, "anonymous", region="CN") is None


def test_a_number_added_in_the_same_transaction_is_found_before_any_flush(session: Session) -> None:
    created = create_customer(session, "Han Meimei", region="CN", numbers=["13900139002"])
    session.flush()
    created.phone_numbers.append(PhoneNumber(e164="+8613900139003"))  # pending, not yet flushed
    found = find_customer_by_number(session, "13900139003", region="CN")
    assert found is not None and found.id == created.id


def test_customer_fields_round_trip(session: Session) -> None:
    customer = create_customer(
        session, "ACME", region="CN", email="ops@acme.example", tags=["b2b", "gold"], notes="key account"
    )
    session.commit()
    session.expunge_all()
    stored = get_customer(session, customer.id)
    assert (stored.name, stored.email, stored.tier, stored.tags, stored.notes) == (
        "ACME",
        "ops@acme.example",
        CustomerTier.normal,
        ["b2b", "gold"],
        "key account",
    )
    assert stored.created_at.tzinfo is UTC


def test_a_customer_has_several_numbers(session: Session) -> None:
    customer = create_customer(session, "Han Meimei", region="CN", numbers=["13900139000"])
    add_phone_number(session, customer.id, "+12025550123", region="CN")
    session.commit()
    found = find_customer_by_number(session, "+1 202 555 0123", region="CN")
    assert found is not None and found.id == customer.id
    assert {phone.e164 for phone in found.phone_numbers} == {"+8613900139000", "+12025550123"}


def test_a_number_belongs_to_one_customer(session: Session) -> None:
    create_customer(session, "First", region="CN", numbers=["13900139000"])
    with pytest.raises(Conflict, match=r"\+8613900139000"):
        create_customer(session, "Second", region="CN", numbers=["+8613900139000"])
    with pytest.raises(Conflict):
        create_customer(session, "Twice", region="CN", numbers=["13800138000", "+8613800138000"])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": " "}, "customer.name"),
        ({"tier": "gold"}, "customer.tier"),
        ({"numbers": ["call me"]}, "customer.numbers"),
    ],
)
def test_invalid_customer_input_names_the_field(session: Session, kwargs: dict, field: str) -> None:
    arguments = {"name": "Li Lei", "region": "CN"} | kwargs
    with pytest.raises(InvalidInput) as caught:
        create_customer(session, **arguments)
    assert caught.value.field == field


def test_missing_customer_raises_not_found(session: Session) -> None:
    with pytest.raises(NotFound, match="customer 42 not found"):
        get_customer(session, 42)
    with pytest.raises(NotFound):
        add_phone_number(session, 42, "13900139000", region="CN")
    with pytest.raises(NotFound):
        recent_interactions(session, 42)


def test_recent_interactions_are_the_newest_first_and_limited(session: Session) -> None:
    customer = create_customer(session, "Li Lei", region="CN")
    other = create_customer(session, "Other", region="CN")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for day in range(5):
        session.add(
            Interaction(customer_id=customer.id, kind=InteractionKind.inbound, started_at=start + timedelta(days=day))
        )
    session.add(Interaction(customer_id=other.id, kind=InteractionKind.fax, started_at=start + timedelta(days=9)))
    session.commit()
    latest = recent_interactions(session, customer.id, limit=3)
    assert [interaction.started_at.day for interaction in latest] == [5, 4, 3]
    with pytest.raises(InvalidInput):
        recent_interactions(session, customer.id, limit=0)

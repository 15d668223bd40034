"""Customer records: create, look up by phone number, read their recent interactions."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from engine.store.errors import Conflict, InvalidInput, found
from engine.store.models import Customer, CustomerTier, Interaction, PhoneNumber
from engine.store.phones import to_e164
from engine.store.validation import non_empty, parse_enum


def create_customer(
    session: Session,
    name: str,
    *,
    region: str,
    numbers: Iterable[str] = (),
    email: str | None = None,
    tier: str = CustomerTier.normal,
    tags: Iterable[str] = (),
    notes: str = "",
) -> Customer:
    """Add a customer with its phone numbers (any local or E.164 form, local ones in *region*).

    Raises InvalidInput for an empty name, unknown tier or bad number, Conflict when a number
    already belongs to another customer.
    """
    customer = Customer(
        name=non_empty("customer.name", name),
        email=email,
        tier=parse_enum(CustomerTier, "customer.tier", tier),
        tags=list(tags),
        notes=notes,
    )
    session.add(customer)
    for number in numbers:
        _attach_number(session, customer, number, region)
    session.flush()
    return customer


def get_customer(session: Session, customer_id: int) -> Customer:
    """The customer with id *customer_id*; raises NotFound."""
    return found(session.get(Customer, customer_id), "customer", customer_id)


def find_customer_by_number(session: Session, number: str, *, region: str) -> Customer | None:
    """The customer owning *number* (local or E.164 form), or None.

    Caller IDs that are not phone numbers ('anonymous', internal extensions) match nobody.
    """
    try:
        e164 = to_e164(number, region)
    except InvalidInput:
        return None
    if session.new:  # numbers added in this transaction are seen, as the ORM's autoflush would
        session.flush()
    customer_id = session.connection().scalar(_OWNER_OF_NUMBER, {"e164": e164})
    return None if customer_id is None else session.get(Customer, customer_id)


#: Asked for every call at answer (the screen pop), mostly for numbers nobody owns: a Core statement built once
#: (the ORM's query of the joined customer was 80 % of the look-up's cost); the customer is then read by key.
_OWNER_OF_NUMBER = select(PhoneNumber.__table__.c.customer_id).where(PhoneNumber.__table__.c.e164 == bindparam("e164"))


def add_phone_number(session: Session, customer_id: int, number: str, *, region: str) -> PhoneNumber:
    """Give customer *customer_id* another number; raises NotFound, InvalidInput or Conflict."""
    phone = _attach_number(session, get_customer(session, customer_id), number, region)
    session.flush()
    return phone


def recent_interactions(session: Session, customer_id: int, limit: int = 10) -> list[Interaction]:
    """The customer's last *limit* interactions, newest first; raises NotFound for an unknown customer."""
    if limit < 1:
        raise InvalidInput("limit", limit, "must be at least 1")
    get_customer(session, customer_id)
    query = (
        select(Interaction)
        .where(Interaction.customer_id == customer_id)
        .order_by(Interaction.started_at.desc(), Interaction.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def _attach_number(session: Session, customer: Customer, number: str, region: str) -> PhoneNumber:
    """Normalise *number* and append it to *customer*, refusing numbers owned by anyone else."""
    e164 = to_e164(number, region, field="customer.numbers")
    owner = session.scalar(select(PhoneNumber).where(PhoneNumber.e164 == e164))
    if owner is not None or any(phone.e164 == e164 for phone in customer.phone_numbers):
        raise Conflict("phone number", e164, "already belongs to a customer")
    phone = PhoneNumber(e164=e164)
    customer.phone_numbers.append(phone)
    return phone

"""CDR repository: a finished call and its interaction are stored together."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from engine.store.calls import CallRecord, get_call, record_finished_call
from engine.store.customers import create_customer, recent_interactions
from engine.store.errors import Conflict, InvalidInput, NotFound
from engine.store.models import Call, CallOutcome, Interaction, InteractionKind

pytestmark = pytest.mark.db

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
ANSWERED = CallRecord(
    uuid="a1b2c3",
    caller_number="+8613900139000",
    destination="4000",
    created_at=T0,
    answered_at=T0 + timedelta(seconds=1),
    queued_at=T0 + timedelta(seconds=20),
    offered_at=T0 + timedelta(seconds=50),
    bridged_at=T0 + timedelta(seconds=55),
    ended_at=T0 + timedelta(seconds=175),
    outcome="answered",
    flow="main",
    queue="sales",
    agent_id="1001",
    priority=5,
    hangup_cause="NORMAL_CLEARING",
)


def test_finished_call_stores_cdr_and_interaction(session: Session) -> None:
    customer = create_customer(session, "Li Lei", region="CN", numbers=["13900139000"])
    _, interaction = record_finished_call(
        session,
        ANSWERED,
        customer_id=customer.id,
        disposition="sale",
        ivr_path=["welcome", "menu:1"],
        recording_path="/recordings/a1b2c3.wav",
    )
    session.commit()
    session.expunge_all()
    stored = get_call(session, "a1b2c3")
    assert stored.outcome is CallOutcome.answered
    assert (stored.queue, stored.agent_id, stored.priority, stored.hangup_cause) == (
        "sales",
        "1001",
        5,
        "NORMAL_CLEARING",
    )
    assert stored.bridged_at == T0 + timedelta(seconds=55)
    assert (stored.wait_seconds, stored.talk_seconds) == (35.0, 120.0)
    [history] = recent_interactions(session, customer.id)
    assert history.id == interaction.id
    assert (history.call_uuid, history.kind, history.disposition, history.ivr_path) == (
        "a1b2c3",
        InteractionKind.inbound,
        "sale",
        ["welcome", "menu:1"],
    )
    assert (history.started_at, history.ended_at) == (T0, ANSWERED.ended_at)
    assert history.recording_path == "/recordings/a1b2c3.wav"


def test_abandoned_call_waits_until_hangup_and_has_no_talk_time(session: Session) -> None:
    abandoned = replace(ANSWERED, uuid="ab", offered_at=None, bridged_at=None, agent_id=None, outcome="abandoned")
    call, interaction = record_finished_call(session, abandoned)
    assert (call.wait_seconds, call.talk_seconds) == (155.0, None)
    assert interaction.customer_id is None


def test_given_durations_are_kept(session: Session) -> None:
    call, _ = record_finished_call(session, replace(ANSWERED, wait_seconds=1.5, talk_seconds=2.5))
    assert (call.wait_seconds, call.talk_seconds) == (1.5, 2.5)


def test_a_call_is_recorded_once(session: Session) -> None:
    record_finished_call(session, ANSWERED)
    session.commit()
    with pytest.raises(Conflict):
        record_finished_call(session, ANSWERED, kind="outbound")
    assert session.scalar(select(func.count()).select_from(Interaction)) == 1


def test_rolled_back_transaction_stores_neither_row(session: Session) -> None:
    record_finished_call(session, ANSWERED)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Call)) == 0
    assert session.scalar(select(func.count()).select_from(Interaction)) == 0


def test_database_error_on_the_interaction_also_drops_the_cdr(session: Session) -> None:
    assert session.bind is not None
    if session.bind.dialect.name == "sqlite":
        pytest.skip("SQLite does not enforce VARCHAR lengths")
    with pytest.raises(DataError):
        record_finished_call(session, ANSWERED, recording_path="x" * 2000)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Call)) == 0


def test_unknown_customer_is_rejected(session: Session) -> None:
    with pytest.raises(NotFound, match="customer 999"):
        record_finished_call(session, ANSWERED, customer_id=999)


@pytest.mark.parametrize(
    ("change", "kind", "field"),
    [
        ({"outcome": "hung_up"}, "inbound", "call.outcome"),
        ({}, "sms", "interaction.kind"),
        ({"uuid": ""}, "inbound", "call.uuid"),
        ({"ended_at": T0 - timedelta(seconds=1)}, "inbound", "call.ended_at"),
        ({"created_at": datetime(2026, 5, 1)}, "inbound", "call.created_at"),
        ({"bridged_at": datetime(2026, 5, 1)}, "inbound", "call.bridged_at"),
    ],
)
def test_invalid_records_name_the_field(session: Session, change: dict, kind: str, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        record_finished_call(session, replace(ANSWERED, **change), kind=kind)
    assert caught.value.field == field


def test_unknown_call_raises_not_found(session: Session) -> None:
    with pytest.raises(NotFound):
        get_call(session, "nope")

"""UTC timestamp helpers and column type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.orm import Session

from engine.store.errors import InvalidInput
from engine.store.models import Agent
from engine.store.timestamps import utc, utcnow


def test_utc_converts_aware_datetimes() -> None:
    beijing = timezone(timedelta(hours=8))
    assert utc("at", datetime(2026, 1, 1, 8, 0, tzinfo=beijing)) == datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    assert utc("at", datetime(2026, 1, 1, 8, 0, tzinfo=beijing)).tzinfo is UTC


def test_utc_rejects_naive_datetimes_naming_the_field() -> None:
    with pytest.raises(InvalidInput, match=r"^call\.ended_at: "):
        utc("call.ended_at", datetime(2026, 1, 1))


def test_utcnow_is_aware() -> None:
    assert utcnow().tzinfo is UTC


@pytest.mark.db
def test_column_round_trips_aware_utc(session: Session) -> None:
    created = datetime(2026, 3, 1, 20, 30, 15, 123456, tzinfo=timezone(timedelta(hours=8)))
    session.add(Agent(id="1001", name="Ann", contact="user/1001", created_at=created))
    session.commit()
    session.expunge_all()
    stored = session.get(Agent, "1001")
    assert stored is not None
    assert stored.created_at == created
    assert stored.created_at.tzinfo is UTC

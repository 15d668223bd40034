"""Timezone-aware UTC timestamps: validation helpers and the column type the models use."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from engine.store.errors import InvalidInput


def utc(field: str, value: datetime) -> datetime:
    """Return *value* converted to UTC; naive datetimes are rejected with an error naming *field*."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(field, value, "is a naive datetime; pass a timezone-aware one")
    return value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """``TIMESTAMP WITH TIME ZONE`` that always stores and returns aware UTC datetimes.

    SQLite keeps no zone, so values are normalised to UTC on the way in and tagged UTC on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Normalise to UTC before storing."""
        return None if value is None else utc("timestamp", value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Tag zone-less values (SQLite) as UTC, convert the rest."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

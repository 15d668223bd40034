"""Exceptions raised by the store repositories."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


class StoreError(Exception):
    """Base class of every store error."""


class NotFound(StoreError, LookupError):
    """A record addressed by its key does not exist."""

    def __init__(self, entity: str, key: object) -> None:
        super().__init__(f"{entity} {key!r} not found")
        self.entity = entity
        self.key = key


def found(row: T | None, entity: str, key: object) -> T:
    """``row`` when it exists (e.g. from ``session.get``); raises NotFound naming ``entity`` and ``key``."""
    if row is None:
        raise NotFound(entity, key)
    return row


class Conflict(StoreError):
    """A record with the same unique key already exists, or the record is still referenced."""

    def __init__(self, entity: str, key: object, reason: str) -> None:
        super().__init__(f"{entity} {key!r}: {reason}")
        self.entity = entity
        self.key = key
        self.reason = reason


class Gone(StoreError):
    """A record exists but what it points to was deleted on purpose (a recording past its retention period)."""

    def __init__(self, entity: str, key: object, reason: str) -> None:
        super().__init__(f"{entity} {key!r}: {reason}")
        self.entity = entity
        self.key = key


class InvalidInput(StoreError, ValueError):
    """A field value is rejected; the message names the field, the value and the rule."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        super().__init__(f"{field}: {value!r} {reason}")
        self.field = field
        self.value = value
        self.reason = reason

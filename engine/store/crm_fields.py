"""Checks for the CRM's text fields: type, length, and characters a database cannot store."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from engine.store.errors import InvalidInput


def text(field: str, value: Any, *, max_len: int, required: bool = True) -> str:
    """``value`` when it is a string of at most ``max_len`` characters without NUL (non-blank if required).

    Any other Unicode (quotes, SQL metacharacters, emoji, right-to-left text) is stored as given.
    """
    if not isinstance(value, str):
        raise InvalidInput(field, value, "must be a string")
    if required and not value.strip():
        raise InvalidInput(field, value, "must not be empty")
    if len(value) > max_len:
        raise InvalidInput(field, f"{value[:20]}...", f"is longer than {max_len} characters")
    if "\x00" in value:
        raise InvalidInput(field, value, "must not contain NUL characters")
    return value


def optional_text(field: str, value: Any, *, max_len: int) -> str | None:
    """Like :func:`text`, but ``None`` passes through and empty strings are allowed."""
    return None if value is None else text(field, value, max_len=max_len, required=False)


def choice(field: str, value: Any, allowed: Iterable[str]) -> str:
    """``value`` when it is one of ``allowed``."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise InvalidInput(field, value, f"must be one of {list(allowed)}")
    return value


def tags(field: str, value: Any) -> list[str]:
    """A list of at most 20 short tags."""
    if not isinstance(value, list) or len(value) > 20:
        raise InvalidInput(field, value, "must be a list of at most 20 tags")
    return [text(f"{field}[{i}]", tag, max_len=40) for i, tag in enumerate(value)]


def timestamp(field: str, value: Any) -> datetime | None:
    """An ISO 8601 timestamp with a timezone (or None)."""
    if value is None or isinstance(value, datetime):
        stamp = value
    else:
        try:
            stamp = datetime.fromisoformat(text(field, value, max_len=40))
        except ValueError:
            raise InvalidInput(field, value, "is not an ISO 8601 timestamp") from None
    if stamp is not None and stamp.tzinfo is None:
        raise InvalidInput(field, value, "needs a timezone offset, e.g. 2026-11-23T10:00:00+08:00")
    return stamp

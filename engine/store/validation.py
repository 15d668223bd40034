"""Input checks shared by the repositories; each failure names the offending field."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TypeVar

from engine.esl.codec import UnsafeValue
from engine.store.errors import InvalidInput
from engine.store.models import SKILL_LEVELS

E = TypeVar("E", bound=enum.StrEnum)


def parse_enum(enum_cls: type[E], field: str, value: str) -> E:
    """*value* as a member of *enum_cls*; raises InvalidInput listing the allowed values."""
    try:
        return enum_cls(value)
    except ValueError:
        raise InvalidInput(field, value, f"must be one of {[member.value for member in enum_cls]}") from None


def skill_level(field: str, value: int) -> int:
    """*value* when it is a valid skill level (1..10); raises InvalidInput naming *field*."""
    if isinstance(value, bool) or not isinstance(value, int) or value not in SKILL_LEVELS:
        raise InvalidInput(field, value, f"must be an integer from {SKILL_LEVELS[0]} to {SKILL_LEVELS[-1]}")
    return value


def non_empty(field: str, value: str) -> str:
    """*value* when it holds a non-blank string; raises InvalidInput naming *field*."""
    if not value or not value.strip():
        raise InvalidInput(field, value, "must not be empty")
    return value


def dial_target(field: str, value: str, check: Callable[[object, str], str]) -> str:
    """*value* when ``check`` (one of :mod:`engine.esl.dialstring`'s grammars) accepts it; raises InvalidInput."""
    try:
        return check(value, field)
    except UnsafeValue as exc:
        raise InvalidInput(field, value, str(exc).removeprefix(f"{field}: ")) from None

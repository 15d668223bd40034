"""Input types every route's models are built from: bounded ids and numbers, and text that fits its column.

A string field is declared with :func:`line` (one line: no control characters) or :func:`text`
(multi-line: tabs and line breaks allowed, no other control characters), giving its maximum length
and the database column it is stored in (``"tickets.title"``), or ``column=None`` when it is not
stored as given (a password, a search query). ``tests/test_api_inputs.py`` checks every such limit
against the column's length, so the models and the schema cannot drift apart. The column appears
in the OpenAPI document as ``x-column``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

ID_MAX = 2**31 - 1  # PostgreSQL's INTEGER, the type of every id column
LINE = r"^[^\x00-\x1f\x7f]*$"
TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
PATH_TEXT = re.compile(r"[^\x00-\x1f\x7f]{0,128}")
MAX_DEPTH = 32  # JSON nesting: the deepest real body (a campaign's dial_params) needs 3

Id = Annotated[int, Field(ge=1, le=ID_MAX, description="a record id")]


def line(max_length: int, column: str | None, *, min_length: int = 1) -> Any:
    """A one-line string (no control characters) of ``min_length`` to ``max_length`` characters."""
    return Field(min_length=min_length, max_length=max_length, pattern=LINE, json_schema_extra={"x-column": column})


def text(max_length: int, column: str | None, *, min_length: int = 0) -> Any:
    """Free text: line breaks and tabs allowed, no NUL or other control characters."""
    return Field(min_length=min_length, max_length=max_length, pattern=TEXT, json_schema_extra={"x-column": column})


def _iso_time(value: str) -> str:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("is not an ISO 8601 time, e.g. 2026-11-23T10:00:00+08:00") from None
    return value


IsoTime = Annotated[
    str, Field(max_length=40, pattern=LINE, json_schema_extra={"x-column": None}), AfterValidator(_iso_time)
]


class Body(BaseModel):
    """A JSON request body: exact JSON types, unknown fields refused, no NaN or infinities."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, hide_input_in_errors=True)


class Query(BaseModel):
    """A query string: values are text, converted to the declared types; an unknown parameter is refused,
    as the OpenAPI document says (``token``, which authenticates EventSource requests, is taken before)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, hide_input_in_errors=True)


class NoBody(Body):
    """The body of an operation that takes none: absent or ``{}``."""


class LimitQuery(Query):
    limit: Annotated[int, Field(ge=1, le=500)] = 50


MESSAGES = {
    "string_pattern_mismatch": "must not contain control characters (NUL, or line breaks in a one-line field)",
    "extra_forbidden": "is not a field of this operation",
    "missing": "is required",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "bool_type": "must be true or false",
}


def field_errors(exc: ValidationError, where: str) -> list[tuple[str, str]]:
    """(field path, message) for each error, e.g. ``("body.numbers.2", "must not contain ...")``."""
    out = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = [str(part) for part in error["loc"] if part not in ("function-after",)]
        name = ".".join([where, *loc])
        message = MESSAGES.get(error["type"], error["msg"])
        if error["type"] in ("json_invalid", "model_type", "model_attributes_type"):
            name, message = where, "must be a JSON object" if error["type"] != "json_invalid" else "is not valid JSON"
        out.append((name, message))
    return out

"""Every string field of every route's input model fits the database column it is stored in (its
``x-column``), so the API's limits and the schema cannot drift apart."""

from __future__ import annotations

import typing
from types import SimpleNamespace

from pydantic import BaseModel

from engine.api.http import Router
from engine.store.models import Base


def _routes() -> Router:
    """A router with every API module's routes, as the running engine registers them."""
    from engine.api import acd, amd_audit, callbacks, crm, outbound
    from engine.api.app import AgentActionBody

    router = Router()
    router.route("POST", "/agent-action", body=AgentActionBody)(lambda req: None)
    context = SimpleNamespace(sessions=None, metrics=None, region="GB", follow_up=24.0, throttle=None)
    crm._routes(router, context)  # type: ignore[arg-type]  # only the declarations are read
    acd.register(router, None, None)  # type: ignore[arg-type]
    outbound.register(router, None, None)  # type: ignore[arg-type]
    amd_audit.register(router, None, None)  # type: ignore[arg-type]
    callbacks.register(router, None)  # type: ignore[arg-type]
    return router


def _string_fields(model: type[BaseModel]) -> list[tuple[str, dict]]:
    """(name, JSON schema) of each string field, list items and dict values included."""
    schema = model.model_json_schema()
    out = []

    def walk(name: str, node: dict) -> None:
        for option in node.get("anyOf", [node]):
            if option.get("type") == "string":
                out.append((name, option))
            for key in ("items", "additionalProperties"):
                if isinstance(option.get(key), dict):
                    walk(f"{name}[]", option[key])

    for name, prop in schema.get("properties", {}).items():
        walk(name, prop)
    return out


def test_every_string_field_fits_its_column() -> None:
    checked = 0
    for route in _routes().routes:
        for model in (route.body, route.query):
            if model is None:
                continue
            for name, schema in _string_fields(model):
                where = f"{route.method} {route.pattern.pattern} {model.__name__}.{name}"
                if "enum" in schema or "const" in schema or schema.get("format") == "date-time":
                    continue
                assert "maxLength" in schema or "pattern" in schema, f"{where}: unbounded string"
                if "x-column" not in schema:
                    assert "maxLength" not in schema, f"{where}: says nothing about where it is stored"
                    continue  # a pattern-bounded value such as a number
                column = schema["x-column"]
                if column is None:
                    continue  # not stored as given (a password, a search, a number normalised first)
                table, _, col = column.partition(".")
                length = getattr(Base.metadata.tables[table].c[col].type, "length", None)
                assert "maxLength" in schema, f"{where}: no maximum length"
                if length is not None:
                    assert schema["maxLength"] <= length, f"{where}: {schema['maxLength']} > {column}'s {length}"
                checked += 1
    assert checked > 40


def test_break_reasons_fit_the_state_log() -> None:
    from engine.api.app import BREAK_REASON_MAX
    from engine.runtime.backend import BREAK_REASON

    column = Base.metadata.tables["agent_state_changes"].c["reason"].type
    assert typing.cast(int, column.length) >= BREAK_REASON_MAX
    assert BREAK_REASON.fullmatch("r" * BREAK_REASON_MAX) and not BREAK_REASON.fullmatch("r" * (BREAK_REASON_MAX + 1))

"""Safe conditions and templates."""

from __future__ import annotations

import pytest

from engine.ivr.errors import ExpressionError
from engine.ivr.expressions import compile_expression, compile_template, lookup_path

VARS = {"customer": {"tier": "vip", "name": "Ann", "tickets": 2}, "tries": 3, "caller": "+44123"}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("customer.tier == 'vip'", True),
        ("customer.tickets > 1 and tries < 4", True),
        ("not customer.missing", True),
        ("customer.tier in ['gold', 'vip']", True),
        ("tries + 1 == 4", True),
        ("len(caller) == 6", True),
        ("unknown.thing > 3", False),  # none > 3 is false, not a crash
        ("1 < tries < 3", False),
        ("customer.tier == 'gold' or true", True),
    ],
)
def test_conditions(source: str, expected: bool) -> None:
    assert bool(compile_expression(source).evaluate(VARS)) is expected


def test_names_are_roots_only() -> None:
    assert compile_expression("customer.tier == x and len(y) > 0").names == {"customer", "x", "y"}


@pytest.mark.parametrize("source", ["__import__('os')", "customer.__class__()", "[x for x in y]", "a = 1", "f(x)"])
def test_unsafe_or_invalid_conditions_are_rejected(source: str) -> None:
    with pytest.raises(ExpressionError):
        compile_expression(source)


def test_templates() -> None:
    template = compile_template("Hello {customer.name}, you have {customer.tickets} tickets{missing}.")
    assert template.render(VARS) == "Hello Ann, you have 2 tickets."
    assert template.names == {"customer", "missing"}
    with pytest.raises(ExpressionError):
        compile_template("{not a name}")


def test_lookup_path() -> None:
    assert lookup_path(VARS, "customer.tier") == "vip"
    assert lookup_path(VARS, "tries.more") is None

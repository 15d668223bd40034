"""Errors render as file:line:col: path: message."""

from __future__ import annotations

from engine.ivr.errors import FlowError, FlowValidationError


def test_error_rendering() -> None:
    error = FlowError("f.yaml", 3, 7, "nodes.a.goto", "unknown goto target 'x'")
    assert str(error) == "f.yaml:3:7: nodes.a.goto: unknown goto target 'x'"
    assert str(FlowValidationError([error, error])).count("\n") == 1

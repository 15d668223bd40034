"""Simulated callers and phones."""

from __future__ import annotations

import pytest

from engine.emulator.sim import Caller, Phone


def test_caller_script_is_consumed_in_order_then_noinput() -> None:
    caller = Caller("555", script=["1", "say:billing"])
    assert [caller.next_input() for _ in range(3)] == ["1", "say:billing", "noinput"]


def test_phone_rejects_an_unknown_behaviour() -> None:
    with pytest.raises(ValueError, match="Phone 1001: behaviour 'sleepy'"):
        Phone("1001", behaviour="sleepy")

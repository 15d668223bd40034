"""engine.runtime.adopt_vars: what is written on the channels at the bridge, and what is read back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.runtime.adopt_vars import caller_variables, encode, live_call, offer_leg_variables, parse_time
from engine.runtime.call_session import CallTrace

JOINED = datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC)
BRIDGED = datetime(2026, 12, 1, 9, 0, 42, 500000, tzinfo=UTC)


def dump(**variables: str) -> dict[str, str]:
    """A ``uuid_dump <uuid> json`` of the caller's channel ``c1``, written by hand."""
    found = {
        "Unique-ID": "c1",
        "Caller-Caller-ID-Number": "+8613900139000",
        "Caller-Destination-Number": "4000",
        "variable_hotline_call_id": "c1",
        "variable_hotline_queue": "support",
        "variable_hotline_priority": "3",
        "variable_hotline_joined_at": "1796115600.000000",
        "variable_hotline_agent": "1001",
        "variable_hotline_bridged_at": "1796115642.500000",
    }
    found.update({f"variable_{k}": v for k, v in variables.items()})
    return {k: v for k, v in found.items() if v != "-"}


def test_a_dumped_channel_gives_the_call_back_with_its_times() -> None:
    call = live_call(dump(hotline_customer_id="17", hotline_flow="main"), "leg-1")
    assert call is not None
    t = call.trace
    assert (t.uuid, t.caller, t.destination, t.queue, t.priority, t.agent_id, t.flow) == (
        "c1", "+8613900139000", "4000", "support", 3, "1001", "main",
    )  # fmt: skip
    assert (t.queued_at, t.bridged_at, call.joined_at, call.agent_leg) == (JOINED, BRIDGED, JOINED, "leg-1")
    assert (t.outcome, t.customer, t.created_at) == ("answered", {"id": 17}, JOINED)


@pytest.mark.parametrize(
    "changed",
    [
        {"hotline_agent": "-"},  # a required variable missing
        {"hotline_queue": "-"},
        {"hotline_call_id": "c2"},  # the variables of another channel (copied by a transfer)
        {"hotline_joined_at": "yesterday"},
        {"hotline_priority": "1;hotline_agent=1002"},  # not a value hotline writes
        {"hotline_agent": "1001\nEvil: header"},
        {"hotline_priority": "99999999999"},
    ],
)
def test_a_channel_without_sound_variables_is_not_adopted(changed: dict[str, str]) -> None:
    assert live_call(dump(**changed), "leg-1") is None


def test_times_are_epoch_seconds_or_iso_8601_with_an_offset() -> None:
    assert parse_time("1796115642.5") == BRIDGED
    assert parse_time("2026-12-01T17:00:42.5+08:00") == BRIDGED
    assert parse_time("2026-12-01T09:00:42") is None  # no offset: which zone?
    assert parse_time("") is None and parse_time("nan") is None and parse_time("1e400") is None


def test_values_that_could_split_the_command_are_left_out() -> None:
    trace = CallTrace("c1", "+441", "4000", queue="sup;port", agent_id="1001", priority=2, flow="main flow")
    trace.queued_at, trace.bridged_at = JOINED, BRIDGED
    written = caller_variables(trace)
    assert "hotline_queue" not in written and "hotline_flow" not in written
    assert written["hotline_agent"] == "1001" and written["hotline_joined_at"] == "1796115600.000000"
    assert encode({"a": "1", "b": "2"}) == "a=1;b=2"


def test_an_offer_leg_carries_only_values_that_fit_an_originate() -> None:
    assert offer_leg_variables("1001", "c1") == {"hotline_agent": "1001", "hotline_call_id": "c1"}
    assert offer_leg_variables("agent one", "c1") == {"hotline_call_id": "c1"}  # the leg still rings
    assert offer_leg_variables("1001", "c,1}x") == {"hotline_agent": "1001"}


def test_other_variables_on_the_channel_do_not_matter() -> None:
    assert live_call(dump(hotline_ivr_inputs='{"account": "1; drop"}', sip_h_x="a\nb"), "leg-1") is not None

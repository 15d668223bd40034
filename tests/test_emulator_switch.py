"""The switch core: event sequence, base headers, waiting on events, scaled time."""

from __future__ import annotations

import gevent
import pytest

from engine.emulator.switch import Switch


def test_events_carry_base_headers_in_freeswitch_order_and_a_rising_sequence() -> None:
    switch = Switch()
    first = switch.fire("CHANNEL_PARK", [("Unique-ID", "x")])
    second = switch.fire("CUSTOM", [("Event-Subclass", "a::b")])
    assert [k for k, _ in first.pairs][:13] == [
        "Event-Name",
        "Core-UUID",
        "FreeSWITCH-Hostname",
        "FreeSWITCH-Switchname",
        "FreeSWITCH-IPv4",
        "FreeSWITCH-IPv6",
        "Event-Date-Local",
        "Event-Date-GMT",
        "Event-Date-Timestamp",
        "Event-Calling-File",
        "Event-Calling-Function",
        "Event-Calling-Line-Number",
        "Event-Sequence",
    ]
    assert first.get("Event-Calling-Function") == "switch_ivr_park"
    assert int(second.get("Event-Sequence")) == int(first.get("Event-Sequence")) + 1
    assert first.get("Core-UUID") == second.get("Core-UUID") == switch.core_uuid


def test_wait_for_sees_past_and_future_events_and_times_out() -> None:
    switch = Switch()
    switch.fire("CUSTOM", [("Event-Subclass", "early")])
    assert switch.wait_for(lambda e: e.get("Event-Subclass") == "early").name == "CUSTOM"
    gevent.spawn(switch.fire, "CUSTOM", [("Event-Subclass", "late")])
    assert switch.wait_for(lambda e: e.get("Event-Subclass") == "late", timeout=1).name == "CUSTOM"
    with pytest.raises(TimeoutError):
        switch.wait_for(lambda e: False, timeout=0.05)
    mark = len(switch.log)
    with pytest.raises(TimeoutError):
        switch.wait_for(lambda e: e.get("Event-Subclass") == "early", timeout=0.05, since=mark)


def test_time_scale_shrinks_waits() -> None:
    switch = Switch(time_scale=0.001)
    assert switch.scaled(2) == pytest.approx(0.002)
    with gevent.Timeout(0.5):
        switch.sleep(100)


def test_without_a_log_events_still_reach_listeners_but_wait_for_refuses() -> None:
    switch = Switch(keep_log=False)
    switch.fire("CUSTOM", [("Event-Subclass", "x")])
    assert switch.log == []
    with pytest.raises(RuntimeError, match="keeps no event log"):
        switch.wait_for(lambda e: True, timeout=0.01)

"""The dialler's legs: a leg given up on is killed at once and again when FreeSWITCH lists it later."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from engine.campaigns.legs import Legs
from engine.emulator import Emulator, Phone
from engine.metrics import Metrics
from engine.transport import InboundClient
from tests.switch_peer import PASSWORD, SILENT, Switch, switch, wait_until


@pytest.fixture
def listed() -> list[str]:
    return []


@pytest.fixture
def rig(listed: list[str]) -> Iterator[tuple[Switch, Legs, Metrics]]:
    def kill(line: str) -> str:
        if line.split()[2] not in listed:
            return "-ERR No such channel!\n"
        listed.remove(line.split()[2])
        return "+OK\n"

    with switch() as fs:
        fs.on(
            "api show channels as json",
            lambda _: json.dumps({"row_count": len(listed), "rows": [{"uuid": u} for u in listed]}) + "\n",
        )
        fs.on("api uuid_kill ", kill)
        metrics = Metrics()
        legs = Legs(fs.client(metrics, events=("BACKGROUND_JOB",)), metrics)
        legs.reconcile_seconds = 0.05
        yield fs, legs, metrics
        legs.orphans.stop_watching()  # as the campaign manager does when it stops


def test_a_leg_given_up_on_is_killed_now_and_when_it_appears_later(rig, listed: list[str]) -> None:
    switch, legs, metrics = rig
    legs.release("leg-1")
    assert switch.wait_for("api uuid_kill") == "api uuid_kill leg-1 ORIGINATOR_CANCEL"
    assert metrics.value("hotline_orphan_legs_killed_total", reason="command_timeout") == 0  # not there yet
    listed.append("leg-1")  # the originate completed late: the contact's leg is parked
    wait_until(lambda: not listed, what="the late leg killed")
    assert metrics.value("hotline_orphan_legs_killed_total", reason="reconcile") == 1
    assert "api uuid_kill leg-1 NORMAL_CLEARING" in switch.commands


def test_a_leg_that_is_there_when_given_up_on_is_killed_and_counted(rig, listed: list[str]) -> None:
    switch, legs, metrics = rig
    listed.append("leg-2")
    legs.release("leg-2")
    assert switch.wait_for("api uuid_kill") == "api uuid_kill leg-2 ORIGINATOR_CANCEL"
    wait_until(lambda: metrics.value("hotline_orphan_legs_killed_total", reason="command_timeout") == 1, what="counted")
    assert not listed


def test_registering_a_leg_does_not_wait_for_freeswitch_to_answer_its_filter(rig) -> None:
    """Under overload the filter's reply is slow: registering neither waits nor raises (FreeSWITCH applies the
    filter before the leg's originate, written after it on the same connection), and nothing is lost."""
    switch, legs, _ = rig
    switch.on("filter Unique-ID", SILENT)
    started = time.monotonic()
    leg = legs.register("leg-slow")
    assert time.monotonic() - started < 1.0  # the client's command timeout is 2 s
    assert leg.uuid == "leg-slow" and ("Unique-ID", "leg-slow") in legs.client.filters
    wait_until(lambda: "filter Unique-ID leg-slow" in switch.subscriptions, what="the filter written")
    legs.forget("leg-slow")
    assert ("Unique-ID", "leg-slow") not in legs.client.filters
    wait_until(lambda: "filter delete Unique-ID leg-slow" in switch.subscriptions, what="and deleted")


def test_a_channel_followed_and_registered_keeps_its_filter_until_both_let_it_go(rig) -> None:
    """Two users of one channel's events (a leg registered, the same channel followed): FreeSWITCH's
    ``filter delete`` removes every copy, so it is sent only when the last user lets go."""
    switch, legs, _ = rig
    legs.register("chan-1")
    assert legs.follow("chan-1", lambda _e: None, lambda: None, timeout=2)
    legs.forget("chan-1")
    assert ("Unique-ID", "chan-1") in legs.client.filters
    legs.unfollow("chan-1")
    assert ("Unique-ID", "chan-1") not in legs.client.filters
    wait_until(lambda: "filter delete Unique-ID chan-1" in switch.subscriptions, what="deleted once")
    assert switch.subscriptions.count("filter delete Unique-ID chan-1") == 1


def test_the_dialler_hears_only_its_registered_legs_and_its_own_bgapi_results() -> None:
    """On the emulator (mod_event_socket's filter rules): the dialler's connection gets the events of a leg
    from its registration to its forgetting, and the results of its own bgapi, nothing of any other channel or
    connection (before, every ACD agent leg and every bgapi result reached it)."""
    emulator = Emulator(password="pw", time_scale=0.01)
    emulator.phones["1001"] = Phone("1001", answer_delay=0)
    emulator.phones["1002"] = Phone("1002", answer_delay=0)
    emulator.start()
    metrics = Metrics()
    legs = Legs.connect("127.0.0.1", emulator.port, "pw", metrics=metrics, timeout=5)
    seen: list[tuple[str, str]] = []
    legs.client.on_event("*", lambda e: seen.append((e.name, e.uuid or e.get("Job-UUID"))))
    other = InboundClient("127.0.0.1", emulator.port, "pw", ["BACKGROUND_JOB"], name="control")
    try:
        legs.client.start(wait=5)
        other.start(wait=5)
        mine = legs.register("leg-mine")
        assert legs.client.bgapi("originate", "{origination_uuid=leg-mine}user/1001", "&park()").startswith("+OK")
        assert other.bgapi("originate", "{origination_uuid=leg-other,hotline_leg=true}user/1002", "&park()").startswith(
            "+OK"
        )
        other.api("uuid_kill", "leg-other")
        legs.client.api("uuid_kill", "leg-mine")
        assert mine.hangup.get(timeout=5) == "NORMAL_CLEARING"
        legs.forget("leg-mine")
        assert {uuid for _, uuid in seen} <= {"leg-mine", *(job for name, job in seen if name == "BACKGROUND_JOB")}
        assert [name for name, _ in seen].count("BACKGROUND_JOB") == 1  # its own originate's, not the other's
        assert ("Unique-ID", "leg-mine") not in legs.client.filters
    finally:
        legs.client.stop()
        other.stop()
        legs.orphans.stop_watching()
        emulator.stop()


def test_a_leg_registered_while_not_connected_is_filtered_once_connected() -> None:
    with switch() as fs:
        client = InboundClient("127.0.0.1", fs.port, PASSWORD, ["BACKGROUND_JOB"], backoff=(0.01, 0.05))
        legs = Legs(client)
        legs.register("leg-early")  # not connected yet: kept, not lost
        client.start(wait=5)
        try:
            wait_until(lambda: "filter Unique-ID leg-early" in fs.subscriptions, what="sent once connected")
        finally:
            client.stop()


def test_a_followed_call_gone_while_the_connection_was_down_is_told_so_after_the_reconnect() -> None:
    """A released call's hangup could be missed while the dialler's connection was down: after each reconnect,
    a followed channel FreeSWITCH no longer has is reported gone; one it still has is not."""
    with switch() as fs:
        fs.on("api uuid_exists ", lambda line: "true" if line.split()[2] == "call-alive" else "false")
        legs = Legs(fs.client(events=("BACKGROUND_JOB",)))
        gone: list[str] = []
        delivered: list[str] = []
        for uuid in ("call-alive", "call-gone"):
            assert legs.follow(uuid, lambda e: delivered.append(e.uuid), lambda u=uuid: gone.append(u), timeout=2)
        assert "filter Unique-ID call-gone" in fs.subscriptions
        fs.event("CHANNEL_UNBRIDGE", "call-alive")
        wait_until(lambda: delivered == ["call-alive"], what="the followed call's event handed over")
        fs.drop_all()
        wait_until(lambda: gone == ["call-gone"], what="the gone call reported after the reconnect")
        legs.unfollow("call-gone")
        assert ("Unique-ID", "call-gone") not in legs.client.filters


def test_following_fails_cleanly_when_freeswitch_does_not_answer_the_filter() -> None:
    """No reply to the filter in time: not followed (the call keeps its socket), the filter not kept."""
    with switch() as fs:
        fs.on("filter Unique-ID call-slow", SILENT)
        legs = Legs(fs.client(events=("BACKGROUND_JOB",)))
        assert not legs.follow("call-slow", lambda e: None, lambda: None, timeout=0.2)
        assert ("Unique-ID", "call-slow") not in legs.client.filters

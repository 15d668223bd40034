"""The dialler's legs: a leg given up on is killed at once and again when FreeSWITCH lists it later."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from engine.campaigns.legs import Legs
from engine.metrics import Metrics
from engine.transport import InboundClient
from tests.scripted_switch import PASSWORD, Answer, Api, ControlSwitch, wait_until


@pytest.fixture
def listed() -> list[str]:
    return []


@pytest.fixture
def rig(listed: list[str]) -> Iterator[tuple[ControlSwitch, Legs, Metrics]]:
    def script(line: str) -> Answer:
        if line == "api show channels as json":
            return Api(json.dumps({"row_count": len(listed), "rows": [{"uuid": u} for u in listed]}) + "\n")
        if line.startswith("api uuid_kill ") and line.split()[2] not in listed:
            return Api("-ERR No such channel!\n")
        if line.startswith("api uuid_kill "):
            listed.remove(line.split()[2])
        return Api()

    switch = ControlSwitch(script)
    switch.start()
    metrics = Metrics()
    client = InboundClient("127.0.0.1", switch.port, PASSWORD, ["BACKGROUND_JOB"], metrics=metrics, timeout=2)
    client.start(wait=5)
    legs = Legs(client, metrics)
    legs.reconcile_seconds = 0.05
    yield switch, legs, metrics
    client.stop()
    switch.stop()


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

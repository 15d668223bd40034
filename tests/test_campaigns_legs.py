"""The dialler's legs: a leg given up on is killed at once and again when FreeSWITCH lists it later."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from engine.campaigns.legs import Legs
from engine.metrics import Metrics
from tests.switch_peer import Switch, switch, wait_until


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

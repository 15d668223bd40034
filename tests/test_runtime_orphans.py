"""Legs let go of, reconciled with FreeSWITCH's channel list over a real ESL connection (a scripted switch)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import gevent
import pytest

from engine.metrics import Metrics
from engine.runtime.orphans import OrphanLegs
from tests.switch_peer import Switch, switch


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def channel_list() -> list[str]:
    return ['{"row_count": 0}\n']


@pytest.fixture
def rig(channel_list: list[str]) -> Iterator[tuple[Switch, OrphanLegs, Metrics, Clock]]:
    with switch() as fs:
        fs.on("api show channels as json", lambda _: channel_list[0])
        metrics, clock = Metrics(), Clock()
        client = fs.client(metrics, events=("BACKGROUND_JOB",))
        yield fs, OrphanLegs(client, metrics, clock, memory_seconds=60), metrics, clock


def listing(*uuids: str) -> str:
    return json.dumps({"row_count": len(uuids), "rows": [{"uuid": u, "name": "sofia/internal/1001"} for u in uuids]})


@pytest.mark.parametrize(
    "reply",
    ["-ERR not now\n", "<html>\n", '{"rows": "leg-1"}\n', '["leg-1"]\n', "\n"],
    ids=["error", "not-json", "rows-not-a-list", "not-an-object", "empty"],
)
def test_a_channel_list_that_is_not_the_expected_json_kills_nothing(rig, channel_list, reply: str) -> None:
    switch, orphans, metrics, _ = rig
    orphans.release("leg-1", "ORIGINATOR_CANCEL")
    channel_list[0] = reply
    assert orphans.reconcile() == 0
    assert [c for c in switch.commands if c.startswith("api uuid_kill")] == ["api uuid_kill leg-1 ORIGINATOR_CANCEL"]
    assert metrics.value("hotline_orphan_legs_killed_total", reason="reconcile") == 0


def test_only_legs_let_go_of_are_killed_and_forgotten_after_the_memory(rig, channel_list) -> None:
    switch, orphans, metrics, clock = rig
    orphans.release("leg-1", "ORIGINATOR_CANCEL")
    channel_list[0] = listing("leg-1", "someone-elses-call")
    assert orphans.reconcile() == 1
    assert [c for c in switch.commands if c.startswith("api uuid_kill")] == [
        "api uuid_kill leg-1 ORIGINATOR_CANCEL",
        "api uuid_kill leg-1 NORMAL_CLEARING",
    ]
    clock.now += 61  # past the memory: forgotten, not even asked about
    before = len(switch.commands)
    assert orphans.reconcile() == 0
    assert "leg-1" not in orphans and len(switch.commands) == before
    assert metrics.value("hotline_orphan_legs_killed_total", reason="reconcile") == 1


FS_STATUS = (
    "UP 0 years, 0 days, 2 hours, 5 minutes, 1 second, 12 milliseconds, 7 microseconds\n"
    "FreeSWITCH (Version 1.11.1 git 1a2b3c4 64bit) is ready\n"
    "812 session(s) since startup\n"
    "37 session(s) - peak 61, last 5min 44 \n"
    "2 session(s) per Sec out of max 30, peak 9, last 5min 4 \n"
    "500 session(s) max\n"
    "min idle cpu 0.00/98.37\n"
)


def test_freeswitch_s_channels_and_limit_are_read_from_status() -> None:
    replies = {"api status": FS_STATUS}
    with switch() as fs:
        fs.on("api status", lambda _: replies["api status"])
        metrics = Metrics()
        client = fs.client(metrics, events=("BACKGROUND_JOB",))
        orphans = OrphanLegs(client, metrics, Clock())
        assert orphans.sample_capacity()
        assert metrics.value("hotline_freeswitch_sessions") == 37
        assert metrics.value("hotline_freeswitch_max_sessions") == 500
        replies["api status"] = "-ERR no reply\n"  # unreadable: the last values stay
        assert not orphans.sample_capacity()
        assert metrics.value("hotline_freeswitch_sessions") == 37


def test_the_on_demand_watcher_runs_while_a_leg_is_remembered_and_ends_when_its_owner_stops(rig) -> None:
    _, orphans, _, _ = rig
    orphans.release("leg-1", "ORIGINATOR_CANCEL")
    orphans.watch(lambda: 30.0)
    watcher = orphans._watcher
    assert watcher is not None and not watcher.dead  # a leg is remembered: it keeps looking
    gevent.sleep(0)  # the watcher has started (waiting for its period), as in a running engine
    orphans.stop_watching()
    assert watcher.dead and orphans._watcher is None  # no greenlet outlives a stopped engine
    orphans.stop_watching()  # twice is harmless


def test_the_on_demand_watcher_ends_once_its_esl_client_is_stopped(rig) -> None:
    _, orphans, _, _ = rig
    orphans.release("leg-1", "ORIGINATOR_CANCEL")
    orphans.watch(lambda: 0.01)
    assert orphans.watching  # a leg is remembered and its client runs
    orphans.control.stop()  # its owner stopped the client but never the watcher
    orphans._watcher.join(timeout=5)
    assert not orphans.watching  # it does not ask a client that will never answer again, forever

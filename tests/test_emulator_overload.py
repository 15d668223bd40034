"""The emulator's slow and lossy mode, over a real ESL socket: late replies, late jobs, vanishing callers,
late events."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from engine.emulator import Caller, Emulator, Overload, Phone
from tests.test_emulator_fidelity import Client


@pytest.fixture
def emu() -> Iterator[Emulator]:
    emulator = Emulator(time_scale=0.01, dialplan={"5000": ["answer", "park"]})
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def api(emu: Emulator) -> Iterator[Client]:
    client = Client.connect(emu.port)
    client.login()
    yield client
    client.close()


def timed(client: Client, cmd: str) -> tuple[str, float]:
    started = time.monotonic()
    body = client.command(f"api {cmd}\n\n").body
    return body, time.monotonic() - started


def test_replies_are_late_by_the_configured_range(emu: Emulator, api: Client) -> None:
    emu.overload(Overload(seed=1, reply_delay=(0.2, 0.3)))
    body, took = timed(api, "uuid_exists nobody")
    assert body == "false"
    assert took >= 0.2
    emu.overload(None)
    assert timed(api, "uuid_exists nobody")[1] < 0.2


def test_a_late_job_creates_its_leg_after_the_client_gave_up(emu: Emulator, api: Client) -> None:
    """An originate whose job starts late: at first FreeSWITCH knows no such leg; later it is parked."""
    emu.phones["1001"] = Phone("1001", answer_delay=0.1)
    emu.overload(Overload(seed=1, late_jobs=1.0, late_job_seconds=0.5))
    api.send("bgapi originate {origination_uuid=late-1}user/1001 &park()\nJob-UUID: job-1\n\n")
    assert api.read().reply_text.startswith("+OK Job-UUID")
    assert timed(api, "uuid_exists late-1")[0] == "false"
    emu.wait_until(lambda: "late-1" in emu.channels, timeout=5)
    assert emu.switch.overload.counts["late_jobs"] == 1


def test_a_caller_vanishes_between_two_commands(emu: Emulator, api: Client) -> None:
    emu.overload(Overload(seed=3, vanish=1.0))
    caller = emu.place_call(Caller("13900000001"), "5000")
    emu.wait_for(lambda e: e.name == "CHANNEL_PARK" and e.uuid == caller)
    assert timed(api, f"uuid_break {caller} all")[0] == "-ERR No such channel!\n"
    assert timed(api, f"uuid_exists {caller}")[0] == "false"
    assert emu.switch.overload.counts["vanished"] == 1


def test_an_agent_leg_never_vanishes(emu: Emulator, api: Client) -> None:
    """Only callers (inbound channels) hang up on their own: an originated leg is left alone."""
    emu.phones["1001"] = Phone("1001", answer_delay=0.1)
    assert timed(api, "originate {origination_uuid=leg-1}user/1001 &park()")[0] == "+OK leg-1\n"
    emu.overload(Overload(seed=3, vanish=1.0))
    assert timed(api, "uuid_break leg-1 all")[0] == "+OK\n"


def test_events_arrive_late_and_in_order(emu: Emulator, api: Client) -> None:
    emu.overload(Overload(event_delay=0.3))
    api.command("event plain CHANNEL_CREATE CHANNEL_PARK\n\n")
    started = time.monotonic()
    caller = emu.place_call(Caller("13900000002"), "5000")
    frames = api.read_until(lambda f: "CHANNEL_PARK" in f.body, timeout=5)
    assert time.monotonic() - started >= 0.3
    names = [line for f in frames for line in f.body.splitlines() if line.startswith("Event-Name:")]
    assert names == ["Event-Name: CHANNEL_CREATE", "Event-Name: CHANNEL_PARK"]
    assert caller in emu.channels


@pytest.mark.parametrize(
    "bad",
    [{"late_jobs": 1.5}, {"vanish": -0.1}, {"reply_delay": (0.3, 0.1)}, {"event_delay": -1.0}],
)
def test_nonsense_settings_are_refused_naming_the_field(bad: dict) -> None:
    with pytest.raises(ValueError, match="Overload"):
        Overload(**bad)

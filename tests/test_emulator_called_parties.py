"""Simulated called parties behind a gateway, mod_amd's ``amd`` and mod_avmd's ``avmd_start``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.emulator import CalledParty, Emulator

NUMBER = "+442079460018"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    emulator = Emulator(time_scale=0.001)
    yield emulator
    emulator.stop()


def originate(emu: Emulator, app: str) -> str:
    return emu.commands.run("originate", f"{{originate_timeout=20}}sofia/gateway/trunk/{NUMBER} &{app}()")


@pytest.mark.parametrize(
    ("kind", "says", "result", "cause"),
    [
        ("live", None, "HUMAN", "HUMAN"),
        ("machine", None, "MACHINE", "LONGGREETING"),
        ("live", "MACHINE", "MACHINE", "LONGGREETING"),  # an AMD false positive
        ("machine", "NOTSURE", "NOTSURE", "TOOLONG"),
    ],
)
def test_amd_sets_its_verdict_variables(emu: Emulator, kind: str, says: str | None, result: str, cause: str) -> None:
    emu.parties[NUMBER] = CalledParty(NUMBER, kind, amd_says=says)
    reply = originate(emu, "amd")
    assert reply.startswith("+OK ")
    done = emu.wait_for(lambda e: e.name == "CHANNEL_EXECUTE_COMPLETE" and e.get("Application") == "amd")
    assert (done.variable("amd_result"), done.variable("amd_cause")) == (result, cause)
    assert done.uuid == reply.split()[1]


@pytest.mark.parametrize(("kind", "cause"), [("busy", "USER_BUSY"), ("no_answer", "NO_ANSWER")])
def test_unanswered_parties_fail_the_originate(emu: Emulator, kind: str, cause: str) -> None:
    emu.parties[NUMBER] = CalledParty(NUMBER, kind)
    assert originate(emu, "park") == f"-ERR {cause}\n"


def test_unknown_number_is_unallocated(emu: Emulator) -> None:
    assert originate(emu, "park") == "-ERR UNALLOCATED_NUMBER\n"


def test_machine_beeps_after_its_greeting_and_people_never_do(emu: Emulator) -> None:
    emu.dialplan["listen"] = [("avmd_start", ""), ("park", "")]
    emu.parties[NUMBER] = CalledParty(NUMBER, "machine", greeting_seconds=4)
    leg = emu.commands.run("originate", f"sofia/gateway/trunk/{NUMBER} listen").split()[1]
    beep = emu.wait_for(lambda e: e.name == "CUSTOM" and e.get("Event-Subclass") == "avmd::beep")
    assert beep.uuid == leg and beep.variable("avmd_detect") == "TRUE"
    # from the channel's own answer time (answer_uepoch): the CHANNEL_ANSWER event's timestamp may be taken a
    # moment later on a loaded machine, a millisecond that is a second of emulator time here
    answered_us = int(beep.variable("answer_uepoch"))
    gap = (int(beep.get("Event-Date-Timestamp")) - answered_us) / 1e6 / 0.001
    assert 3.9 < gap < 400  # not before the greeting ends (emulator time; a loaded machine adds real-time delay)
    emu.parties["+442079460019"] = CalledParty("+442079460019", "live", patience_seconds=1)
    person = emu.commands.run("originate", "sofia/gateway/trunk/+442079460019 listen").split()[1]
    emu.wait_for(lambda e: e.name == "CHANNEL_HANGUP_COMPLETE" and e.uuid == person)
    assert not [e for e in emu.events if e.name == "CUSTOM" and e.uuid == person]


def test_called_party_rejects_unknown_kinds() -> None:
    with pytest.raises(ValueError, match="kind 'robot'"):
        CalledParty(NUMBER, "robot")

"""Dial-string parsing, and what a phone reached by `user/` does once it answers."""

from __future__ import annotations

import gevent
import pytest

from engine.emulator import CalledParty, Emulator, Phone
from engine.emulator.channel import Channel
from engine.emulator.originate import OriginateError, parse_dial, split_vars


def test_split_vars_reads_global_and_leg_variables() -> None:
    assert split_vars("{a=1,b='x y'}[c=3]user/1001") == ({"a": "1", "b": "x y", "c": "3"}, "user/1001")
    assert split_vars("loopback/9999") == ({}, "loopback/9999")


def test_parse_dial_splits_sequential_targets_and_merges_variables() -> None:
    targets = parse_dial("{t=1}user/1|[u=2]user/2")
    assert [(t.variables, t.endpoint) for t in targets] == [({"t": "1"}, "user/1"), ({"t": "1", "u": "2"}, "user/2")]


def test_a_phone_with_hold_after_presses_hold_then_resumes() -> None:
    emu = Emulator(time_scale=0.001)
    emu.phones["1001"] = Phone("1001", answer_delay=0, hold_after=5, hold_seconds=30)
    # the ring timeout is in emulated seconds: the default 60 is 60 ms here, which a loaded machine
    # missed (NO_ANSWER for a phone that answers at once); 60,000 is a real minute
    leg = emu.originator.originate("{origination_uuid=h-1}user/1001", timeout=60_000)
    held = emu.wait_for(lambda e: e.name == "CHANNEL_HOLD" and e.uuid == leg.uuid)
    resumed = emu.wait_for(lambda e: e.name == "CHANNEL_UNHOLD" and e.uuid == leg.uuid)
    assert (held.get("Channel-Call-State"), resumed.get("Channel-Call-State")) == ("HELD", "UNHELD")
    assert held.get("Event-Calling-Function") == "switch_channel_mark_hold"
    leg.hangup()
    with pytest.raises(ValueError, match="hold_after"):
        Phone("1002", hold_after=-1)


@pytest.mark.parametrize("endpoint", ["user/1001", "sofia/gateway/trunk/13900000001"])
def test_a_phone_due_to_answer_before_the_ring_timeout_answers_even_when_answering_is_slow(
    endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer (10 emulated seconds) and the ring timeout (20) are timers in scaled time (10 and 20 ms):
    answering that takes longer than the gap in real time (its events going out on a loaded machine) must not
    make it a no-answer. A phone that never answers still times out."""
    emu = Emulator(time_scale=0.001)
    emu.phones["1001"] = Phone("1001", answer_delay=10)
    emu.parties["13900000001"] = CalledParty("13900000001", "live", answer_delay=10, patience_seconds=100_000)
    emu.phones["1002"] = Phone("1002", behaviour="no_answer")
    answer = Channel.answer

    def slow_answer(leg: Channel) -> None:
        gevent.sleep(0.05)  # the answering greenlet yields past the scaled ring timeout (a loaded machine)
        answer(leg)

    monkeypatch.setattr(Channel, "answer", slow_answer)
    leg = emu.originator.originate(endpoint, timeout=20)
    assert leg.answered.is_set() and leg.alive
    leg.hangup()
    with pytest.raises(OriginateError, match="NO_ANSWER"):
        emu.originator.originate("user/1002", timeout=20)


def test_park_timeout_hangs_up_a_parked_leg_nobody_took_in_real_seconds() -> None:
    """``park_timeout=<s>:<cause>`` as switch_ivr_park reads it (tests/test_realfs.py checks FreeSWITCH):
    in real seconds, since it races the engine's own commands, not a script."""
    emu = Emulator(time_scale=0.001)
    emu.phones["1001"] = Phone("1001", answer_delay=0)
    emu.phones["1002"] = Phone("1002", answer_delay=0)
    timed = emu.originator.originate("{origination_uuid=p-1,park_timeout=1:ALLOTTED_TIMEOUT}user/1001", timeout=60_000)
    kept = emu.originator.originate("{origination_uuid=p-2}user/1002", timeout=60_000)
    for leg in (timed, kept):
        gevent.spawn(leg.park)
    ended = emu.wait_for(lambda e: e.name == "CHANNEL_HANGUP_COMPLETE" and e.uuid == "p-1", timeout=10)
    assert ended.get("Hangup-Cause") == "ALLOTTED_TIMEOUT"
    assert kept.alive and "park_timeout" not in timed.variables
    kept.hangup()

"""Actions are immutable values; terminal ones carry their metrics outcome."""

from __future__ import annotations

import dataclasses

import pytest

from engine.ivr.actions import (
    OUTCOMES,
    Callback,
    CollectDigits,
    Done,
    Hangup,
    Play,
    Queue,
    Say,
    Transfer,
    is_terminal,
)


def test_terminal_actions_and_outcomes() -> None:
    terminal = [
        Queue("q", "s", 1),
        Transfer("number", "+44"),
        Hangup(),
        Callback("+44", "r"),
        Done("self_served"),
    ]
    assert all(is_terminal(a) for a in terminal)
    assert [a.outcome for a in terminal] == ["queued", "transferred", "hangup", "callback", "self_served"]
    assert all(a.outcome in OUTCOMES for a in terminal)
    assert not is_terminal(Play(("a.wav",)))


def test_actions_are_frozen_and_comparable() -> None:
    ask = CollectDigits((Say("hi"),), 1, 4, 5000, 3000, "#")
    assert ask == CollectDigits((Say("hi", "en-GB"),), 1, 4, 5000, 3000, "#", None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ask.max_digits = 9  # type: ignore[misc]

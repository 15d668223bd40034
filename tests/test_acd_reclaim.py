"""engine.acd.reclaim: a parked caller's place held after a restart, then reclaimed (docs/acd.md)."""

from __future__ import annotations

import pytest

from engine.acd import commands
from engine.acd.core import Acd, UnknownQueue
from engine.acd.model import Agent, QueueConfig
from engine.acd.states import CallState, IllegalTransition

SALES = QueueConfig("sales", "sales", max_wait_seconds=120, exit_target="voicemail")


def make(*, ready: bool = True) -> Acd:
    acd = Acd()
    acd.configure_queue(SALES, 0)
    acd.add_agent(Agent("1001", {"sales": 5}, contact="user/1001"))
    if ready:
        acd.agent_login("1001", 0)
    return acd


def test_a_parked_place_is_held_but_never_offered_until_the_caller_is_back() -> None:
    acd = make()
    assert acd.park("p1", "sales", 0, 40.0, 100.0) == []  # an agent is ready: still no offer
    assert acd.is_parked("p1") and acd.position("p1") is None
    assert acd.snapshot().calls["p1"].state is CallState.PARKED
    out = acd.reclaim("p1", 101.0)
    [offer] = [c for c in out if isinstance(c, commands.Offer)]
    assert offer.call_id == "p1" and not acd.is_parked("p1")


def test_reclaimed_callers_keep_their_order_and_priority_ahead_of_newer_calls() -> None:
    acd = make(ready=False)
    acd.enqueue("new", "sales", 0, 100.0)  # arrived on the restarted engine, after the others joined
    acd.park("old", "sales", 0, 30.0, 100.0)
    acd.park("older", "sales", 0, 20.0, 100.0)
    acd.park("urgent", "sales", 5, 60.0, 100.0)
    for call in ("old", "urgent", "older"):  # their sockets come back in any order
        acd.reclaim(call, 101.0)
    assert [c for c in ("urgent", "older", "old", "new") if acd.position(c)] == ["urgent", "older", "old", "new"]
    assert [acd.position(c) for c in ("urgent", "older", "old", "new")] == [1, 2, 3, 4]


def test_the_maximum_wait_counts_from_the_first_join() -> None:
    acd = make(ready=False)
    acd.park("p1", "sales", 0, 0.0, 100.0)
    acd.reclaim("p1", 101.0)
    out = acd.tick(121.0)  # joined at 0: its 120 s are up
    assert [c for c in out if isinstance(c, commands.QueueExit)] == [
        commands.QueueExit("p1", "sales", "max_wait", "voicemail", 0.0)
    ]


def test_a_join_time_in_the_future_is_held_as_now() -> None:
    acd = make(ready=False)
    acd.park("p1", "sales", 0, 500.0, 100.0)  # a wrong clock on the channel
    assert acd.snapshot().calls["p1"].enqueued_at == 100.0


def test_a_caller_gone_while_parked_ends_as_abandoned() -> None:
    acd = make(ready=False)
    acd.park("p1", "sales", 0, 50.0, 100.0)
    out = acd.call_ended("p1", 103.0)
    assert commands.CallAbandoned("p1", "sales", 53.0) in out
    acd.park("p2", "sales", 0, 50.0, 103.0)
    assert any(isinstance(c, commands.CallAbandoned) for c in acd.caller_gone("p2", 104.0))
    assert acd.snapshot().calls == {}


@pytest.mark.parametrize(
    ("setup", "error"),
    [
        (lambda acd: None, "no parked call"),
        (lambda acd: acd.enqueue("p1", "sales", 0, 1.0), "event 'reclaim' is not allowed in state 'queued'"),
    ],
)
def test_reclaim_of_a_call_not_parked_is_refused(setup, error: str) -> None:
    acd = make(ready=False)
    setup(acd)
    with pytest.raises((ValueError, IllegalTransition), match=error):
        acd.reclaim("p1", 2.0)


def test_park_refuses_bad_input_naming_the_field() -> None:
    acd = make(ready=False)
    with pytest.raises(UnknownQueue):
        acd.park("p1", "nope", 0, 1.0, 2.0)
    with pytest.raises(ValueError, match="priority"):
        acd.park("p1", "sales", True, 1.0, 2.0)  # type: ignore[arg-type]
    acd.enqueue("p1", "sales", 0, 1.0)
    with pytest.raises(ValueError, match="already in the ACD"):
        acd.park("p1", "sales", 0, 1.0, 2.0)

"""Every row of the ACD transition tables, and every pair not in them."""

from __future__ import annotations

import itertools

import pytest

from engine.acd.states import (
    AGENT_TRANSITIONS,
    CALL_TRANSITIONS,
    OFFER_TRANSITIONS,
    AgentEvent,
    AgentState,
    CallEvent,
    CallState,
    IllegalTransition,
    Machine,
    OfferEvent,
    OfferState,
    transition,
)

MACHINES = [
    (Machine.AGENT, AgentState, AgentEvent, AGENT_TRANSITIONS),
    (Machine.CALL, CallState, CallEvent, CALL_TRANSITIONS),
    (Machine.OFFER, OfferState, OfferEvent, OFFER_TRANSITIONS),
]
LEGAL = [(kind, state, event, new) for kind, _, _, table in MACHINES for (state, event), new in table.items()]
ILLEGAL = [
    (kind, state, event)
    for kind, states, events, table in MACHINES
    for state, event in itertools.product(states, events)
    if (state, event) not in table
]


@pytest.mark.parametrize(("kind", "state", "event", "new"), LEGAL)
def test_legal_transition(kind: Machine, state: object, event: object, new: object) -> None:
    assert transition(kind, state, event) is new


@pytest.mark.parametrize(("kind", "state", "event"), ILLEGAL)
def test_illegal_transition_raises(kind: Machine, state: object, event: object) -> None:
    with pytest.raises(IllegalTransition) as caught:
        transition(kind, state, event, "x1")
    assert (caught.value.kind, caught.value.current, caught.value.event) == (kind, state, event)
    assert f"{kind} x1: event '{event}' is not allowed in state '{state}'" == str(caught.value)


def test_the_tables_say_what_the_docs_say() -> None:
    assert transition(Machine.AGENT, AgentState.READY, AgentEvent.OFFER) is AgentState.RESERVED
    assert transition(Machine.AGENT, AgentState.RESERVED, AgentEvent.TOO_MANY_NO_ANSWERS) is AgentState.BREAK
    assert transition(Machine.CALL, CallState.OFFERING, CallEvent.OFFER_FAILED) is CallState.QUEUED
    assert transition(Machine.CALL, CallState.QUEUED, CallEvent.MAX_WAIT) is CallState.LEFT
    final_calls = {CallState.ENDED, CallState.LEFT}
    assert not any(state in final_calls for state, _ in CALL_TRANSITIONS)
    assert {state for state, _ in OFFER_TRANSITIONS} == {OfferState.RINGING}
    with pytest.raises(IllegalTransition):
        transition(Machine.AGENT, AgentState.ON_CALL, AgentEvent.LOGOUT)


def test_every_state_is_reachable_and_used() -> None:
    for _, states, _, table in MACHINES:
        targets = set(table.values()) | {next(iter(states))}
        assert targets == set(states)

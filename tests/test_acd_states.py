"""The ACD's three state machines against the tables of docs/acd.md ("State tables").

The expected rows below are copied by hand from docs/acd.md, not generated from
``engine.acd.states``: a wrong, missing or extra row in the engine's tables fails here.
Every (state, event) pair of each machine is checked: the documented rows move to the
documented state, every other pair raises ``IllegalTransition``.
"""

from __future__ import annotations

import itertools
from enum import StrEnum

import pytest

from engine.acd.states import (
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

# docs/acd.md, "State tables", Agents: one row per "From | Event | To" (rows naming several
# states or events, such as "ready / break / wrap_up | dial", are written out one by one).
AGENT_ROWS = """
logged_out  login                ready
ready       offer                reserved
ready       break                break
ready       logout               logged_out
break       break                break
break       ready                ready
break       logout               logged_out
reserved    answer               on_call
reserved    offer_failed         ready
reserved    too_many_no_answers  break
reserved    offer_cancelled      ready
reserved    offer_lost           ready
reserved    break                break
reserved    logout               logged_out
on_call     call_ended           wrap_up
on_call     bridge_failed        ready
on_call     caller_gone          ready
on_call     callback_failed      ready
wrap_up     wrap_up_ended        ready
wrap_up     break                break
wrap_up     logout               logged_out
ready       dial                 engaged
break       dial                 engaged
wrap_up     dial                 engaged
ready       consult              engaged
engaged     engaged_call_ended   wrap_up
logged_out  restore              ready
logged_out  restore_break        break
logged_out  adopt                on_call
logged_out  phone_busy           engaged
"""

# docs/acd.md, Calls and Callbacks (virtual calls).
CALL_ROWS = """
queued            offer          offering
queued            hang_up        ended
queued            max_wait       left
offering          offer_failed   queued
offering          answer         bridged
offering          hang_up        ended
bridged           hang_up        ended
bridged           bridge_failed  queued
queued            caller_gone    ended
offering          caller_gone    ended
bridged           caller_gone    ended
queued            leave          left
offering          leave          left
virtual           offer          virtual_offering
virtual_offering  offer_failed   virtual
virtual_offering  answer         dialling
dialling          connected      bridged
dialling          no_contact     retry_wait
dialling          give_up        left
retry_wait        retry          virtual
virtual           cancel         left
virtual_offering  cancel         left
retry_wait        cancel         left
queued            adopt          bridged
parked            reclaim        queued
parked            hang_up        ended
parked            caller_gone    ended
"""

# docs/acd.md, Offers: "ringing -> one of answered, no_answer, busy, rejected, failed, cancelled, lost; all final".
OFFER_ROWS = """
ringing  answer     answered
ringing  no_answer  no_answer
ringing  busy       busy
ringing  reject     rejected
ringing  fail       failed
ringing  cancel     cancelled
ringing  lose       lost
"""

# Every state and event the docs name, per machine (the engine's enums must be exactly these).
AGENT_STATES = "logged_out ready break reserved on_call wrap_up engaged"
AGENT_EVENTS = (
    "login logout ready break offer answer offer_failed too_many_no_answers offer_cancelled call_ended"
    " bridge_failed caller_gone offer_lost callback_failed wrap_up_ended dial consult engaged_call_ended"
    " restore restore_break adopt phone_busy"
)
CALL_STATES = "queued offering bridged ended left virtual virtual_offering dialling retry_wait parked"
CALL_EVENTS = (
    "offer offer_failed answer hang_up bridge_failed caller_gone max_wait leave connected no_contact give_up retry"
    " cancel adopt reclaim"
)
OFFER_STATES = "ringing answered no_answer busy rejected failed cancelled lost"
OFFER_EVENTS = "answer no_answer busy reject fail cancel lose"

MACHINES: dict[Machine, tuple[type[StrEnum], type[StrEnum], str, str, str]] = {
    Machine.AGENT: (AgentState, AgentEvent, AGENT_STATES, AGENT_EVENTS, AGENT_ROWS),
    Machine.CALL: (CallState, CallEvent, CALL_STATES, CALL_EVENTS, CALL_ROWS),
    Machine.OFFER: (OfferState, OfferEvent, OFFER_STATES, OFFER_EVENTS, OFFER_ROWS),
}


def _rows(text: str) -> dict[tuple[str, str], str]:
    rows: dict[tuple[str, str], str] = {}
    for line in text.strip().splitlines():
        state, event, new = line.split()
        assert (state, event) not in rows, f"row written twice: {line}"
        rows[(state, event)] = new
    return rows


CASES = [
    pytest.param(kind, state, event, _rows(rows).get((state, event)), id=f"{kind}-{state}-{event}")
    for kind, (_, _, states, events, rows) in MACHINES.items()
    for state, event in itertools.product(states.split(), events.split())
]


@pytest.mark.parametrize(("kind", "state", "event", "new"), CASES)
def test_every_pair_of_state_and_event(kind: Machine, state: str, event: str, new: str | None) -> None:
    state_enum, event_enum, *_ = MACHINES[kind]
    current, happening = state_enum(state), event_enum(event)
    if new is not None:
        assert transition(kind, current, happening, "x1") == new
        return
    with pytest.raises(IllegalTransition) as caught:
        transition(kind, current, happening, "x1")
    assert (caught.value.kind, caught.value.current, caught.value.event) == (kind, state, event)
    assert str(caught.value) == f"{kind} x1: event '{event}' is not allowed in state '{state}'"


@pytest.mark.parametrize("kind", list(MACHINES))
def test_the_engine_has_exactly_the_documented_states_and_events(kind: Machine) -> None:
    state_enum, event_enum, states, events, rows = MACHINES[kind]
    assert sorted(s.value for s in state_enum) == sorted(states.split())
    assert sorted(e.value for e in event_enum) == sorted(events.split())
    for (state, event), new in _rows(rows).items():  # the rows themselves use only documented names
        assert {state, new} <= set(states.split()) and event in events.split()


def test_the_documented_examples_of_illegal_moves() -> None:
    """docs/acd.md: "e.g. logging out on_call or engaged, ready while ready"; a virtual call cannot
    be hung up until it is bridged; ended and left are final."""
    for state, event in [("on_call", "logout"), ("engaged", "logout"), ("ready", "ready")]:
        with pytest.raises(IllegalTransition):
            transition(Machine.AGENT, AgentState(state), AgentEvent(event))
    for state in ("virtual", "virtual_offering", "dialling", "retry_wait", "ended", "left"):
        with pytest.raises(IllegalTransition):
            transition(Machine.CALL, CallState(state), CallEvent.HANG_UP)

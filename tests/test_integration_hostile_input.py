"""Hostile values through the path an attack takes: HTTP call control and supervision, a caller's own
number, and the store, against the emulator. Each payload here would have added a command (``api
hupall``), an endpoint or a channel variable to what hotline sends FreeSWITCH; now each is refused
with a 400 naming the field before anything is sent, the calls on the switch go on, and the refusal
is audited and counted."""

from __future__ import annotations

from contextlib import contextmanager

import gevent
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from engine.emulator import Caller, Phone
from engine.store import agents
from engine.store.errors import InvalidInput
from tests.acd_rig import acd_rig, login, talking, wait_until
from tests.hotline_rig import HOTLINE_NUMBER, seed, start_rig

pytestmark = [pytest.mark.integration, pytest.mark.db]

SKILLS = {"1001": {"sales": 5}, "1002": {"sales": 5}}

INJECTIONS = [
    "number:123\n\napi hupall",
    "number:123\r\n\r\napi hupall",
    "number:123 XML public",
    "number:123,user/1009",
    "number:${system(touch /tmp/hotline-pwned)}",
    "agent:1002|user/1009",
    "queue:sales\n\napi hupall",
]
CONTACTS = [
    "user/1009\n\napi system touch /tmp/hotline-pwned",
    "user/1009,user/1002",
    "{execute_on_answer=hupall}user/1009",
    "user/1009 &hupall()",
    "user/${system(id)}",
]


@pytest.fixture
def rig(tmp_path, db_url):
    with acd_rig(tmp_path, db_url, SKILLS, {}) as rig:
        for ext in ("1001", "1002", "1009"):
            rig.emulator.phones[ext] = Phone(ext, answer_delay=1)
        yield rig


def two_calls_talking(rig) -> list[str]:
    login(rig, "1001")
    login(rig, "1002")
    calls = [rig.emulator.place_call(Caller(f"1390000000{n}", script=["1"]), HOTLINE_NUMBER) for n in (1, 2)]
    wait_until(lambda: talking(rig, "1001") and talking(rig, "1002"), what="both agents talking")
    return calls


def still_up(rig, calls: list[str]) -> bool:
    channels = rig.emulator.channels
    return all(uuid in channels and channels[uuid].state != "CS_DESTROY" for uuid in calls) and all(
        talking(rig, agent) for agent in SKILLS
    )


def test_an_agent_cannot_inject_through_a_transfer_or_consult_target(rig) -> None:
    calls = two_calls_talking(rig)
    me = rig.agent_tokens["1001"]
    for target in INJECTIONS:
        for action in ("transfer", "consult", "conference"):
            status, body = rig.api("POST", f"/api/agents/1001/call/{action}", me, {"target": target})
            assert status == 400, (action, target, body)
            assert "target" in body["error"]
    status, body = rig.api("POST", "/api/agents/1001/call/transfer", me, {"target": "number:\ud800"})
    assert status == 400  # a lone surrogate is refused at the edge, before call control
    assert still_up(rig, calls)
    # line breaks are refused at the HTTP edge (body.target is one line); the rest by the dial grammar
    reached = [t for t in INJECTIONS if "\n" not in t and "\r" not in t]
    assert rig.engine.metrics.value("hotline_unsafe_values_total", source="call_control_transfer") == len(reached)
    log = rig.api("GET", "/api/call-control-log?agent=1001&limit=100", rig.admin)[1]
    assert len(log) == 3 * len(reached) and all(r["result"].startswith("refused") for r in log)
    # the same agent's real transfer still works
    own = rig.engine.acd.acd.snapshot().agents["1001"].call_id
    status, body = rig.api("POST", "/api/agents/1001/call/transfer", me, {"target": "queue:sales"})
    assert (status, body["call"], body["target"]) == (200, own, "queue:sales")


def test_a_supervisor_contact_cannot_add_a_command_an_endpoint_or_a_variable(rig) -> None:
    calls = two_calls_talking(rig)
    before = set(rig.emulator.channels)
    for contact in CONTACTS:
        for action in ("listen", "whisper", "barge"):
            status, body = rig.api("POST", f"/api/supervise/1001/{action}", rig.admin, {"contact": contact})
            assert status == 400, (action, contact, body)
            assert "contact" in body["error"]
    assert set(rig.emulator.channels) == before  # nothing was rung
    assert still_up(rig, calls)
    status, body = rig.api("POST", "/api/supervise/1001/listen", rig.admin, {"contact": "user/1009"})
    assert status == 200
    spy = wait_until(lambda: rig.emulator.channels.get(body["leg"]), what="the supervisor's leg")
    own = rig.engine.acd.acd.snapshot().agents["1001"].call_id
    wait_until(lambda: spy.variables.get("eavesdrop_target") == own, what="listening to 1001's call")


def test_a_manual_dial_number_is_a_number(rig) -> None:
    login(rig, "1001")
    me = rig.agent_tokens["1001"]
    for number in ("123\n\napi hupall", "123,user/1009", "{a=b}123", "123&park()", "١٢٣"):
        status, body = rig.api("POST", "/api/agents/1001/call/dial", me, {"number": number})
        assert status == 400 and "number" in body["error"], (number, body)
    assert str(rig.engine.acd.agent_state("1001")) == "ready"  # nothing engaged the agent


def test_a_callers_own_number_cannot_set_variables_on_the_agents_leg(rig) -> None:
    login(rig, "1001")
    hostile = "1390,execute_on_answer=hupall,hotline_call=forged}"
    uuid = rig.emulator.place_call(Caller(hostile, script=["1"]), HOTLINE_NUMBER)
    wait_until(lambda: talking(rig, "1001"), what="1001 talking")
    agent_leg = rig.emulator.channels[rig.engine.acd.agent_legs[uuid]]
    assert agent_leg.variables["origination_caller_id_number"] == "1390_execute_on_answer_hupall_hotline_call_forged_"
    assert "execute_on_answer" not in agent_leg.variables
    assert agent_leg.variables["hotline_call"] == uuid
    assert uuid in rig.emulator.channels


def test_an_agent_contact_is_checked_where_it_is_stored(rig) -> None:
    with rig.engine.sessions.begin() as s:
        for contact in CONTACTS:
            with pytest.raises(InvalidInput, match=r"agent\.contact"):
                agents.create_agent(s, "2001", name="Eve", contact=contact)
            with pytest.raises(InvalidInput, match=r"agent\.contact"):
                agents.update_agent(s, "1001", contact=contact)


SPOKEN_TRANSFER = """
flow: main
nodes:
  ask:
    recognise: "Which number?"
    into: dest
    grammar: free
    confidence: 0.5
    attempts: 1
    on_failure: bye
    next: go
  go:
    transfer: number
    to: "{dest}"
  bye:
    hangup: NORMAL_CLEARING
"""


@pytest.mark.parametrize("spoken", ["123 XML public", "123,user/1009", "123\n\napi hupall"])
def test_a_transfer_built_from_what_a_caller_said_is_never_sent_as_is(tmp_path, db_url, spoken) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "main.yaml").write_text(SPOKEN_TRANSFER)
    seed(db_url, lambda s: None)
    with contextmanager(start_rig)(tmp_path, db_url, [], flows_dir=flows) as rig:
        plain = rig.emulator.place_call(Caller("13900000009", script=["say:4321"]), HOTLINE_NUMBER)
        trace = rig.next_call()
        assert (trace.uuid, trace.outcome) == (plain, "transferred")  # a number said plainly is transferred
        uuid = rig.emulator.place_call(Caller("13900000001", script=[f"say:{spoken}"]), HOTLINE_NUMBER)
        trace = rig.next_call()
        assert (trace.uuid, trace.outcome) == (uuid, "self_served")
        assert rig.engine.metrics.value("hotline_unsafe_values_total", source="ivr_transfer") == 1


# Contacts of every shape: arbitrary text with the separators an attacker uses, and plausible phones
# with something appended.
CONTACT_TEXT = st.one_of(
    st.text(alphabet=st.sampled_from(list("\r\n\x00 ,|{}[]<>&()$:_^'\"\\=@/+*#.-ab19")), min_size=1, max_size=30),
    st.builds(lambda ext, tail: f"user/{ext}{tail}", st.from_regex(r"[0-9]{3,5}", fullmatch=True), st.text(max_size=9)),
)


def sent_since(rig, n: int) -> list:
    return rig.emulator.switch.commands[n:]


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(contact=CONTACT_TEXT)
@example(contact="user/1009")  # both outcomes are always exercised, whatever is generated
@example(contact="user/1009\n\napi hupall")
def test_any_supervisor_contact_leaves_hotline_in_one_command_only_as_the_endpoint(rig, contact) -> None:
    """For any text as ``contact``: a 400 and nothing sent that carries it, or one ``originate`` whose
    endpoint is exactly that text and nothing else carrying it."""
    if not rig.engine.acd.acd.snapshot().agents["1001"].call_id:
        login(rig, "1001")
        rig.emulator.place_call(Caller("13900000001", script=["1"]), HOTLINE_NUMBER)
        wait_until(lambda: talking(rig, "1001"), what="1001 talking")
    before = len(rig.emulator.switch.commands)
    status, body = rig.api("POST", "/api/supervise/1001/listen", rig.admin, {"contact": contact})
    if status == 400:
        assert "contact" in body["error"]
        gevent.sleep(0)  # a greenlet spawned by the request would have run by now
        assert not [c for c in sent_since(rig, before) if contact in c.line or contact in str(c.pairs)]
        return
    assert status == 200, body
    leg = body["leg"]
    mine = wait_until(
        lambda: [c for c in sent_since(rig, before) if leg in c.line and c.line.startswith("bgapi originate")],
        what="the supervisor's originate",
    )
    assert len(mine) == 1
    words = mine[0].line.split(" ")
    assert len(words) == 4
    assert words[:3] == ["bgapi", "originate", f"{{origination_uuid={leg},hotline_leg=true}}{contact}"]
    assert words[3].startswith("&eavesdrop(") and [name for name, _ in mine[0].pairs] == ["Job-UUID"]

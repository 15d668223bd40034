"""engine.runtime.adopt: an engine starting on a switch that already carries calls, and on a state log.

The switch (the emulator, over real ESL) is set up as a crashed engine leaves it: a caller bridged to an
agent with the adoption variables written by hand (the format docs/operations.md documents), a caller
bridged without them, a phone on a call of its own, an offer leg parked at a phone. The database holds
each agent's last logged state. Then a new engine starts and is looked at through its HTTP API, its
CDR listener and the switch.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import gevent
import pytest
from gevent.queue import Queue
from sqlalchemy import func, select

from engine.config import load_config
from engine.emulator import Caller, Emulator, Phone
from engine.runtime.call_session import CallTrace
from engine.runtime.hotline import Hotline
from engine.store import agent_states, agents, calls, queues, skills
from engine.store.db import make_engine, session_factory
from engine.store.models import Call as CallRow
from tests.hotline_rig import seed

pytestmark = [pytest.mark.integration, pytest.mark.db]

PHONES = ("1001", "1002", "1003", "1004", "1005", "1006", "1007")
LOGGED = {  # agent -> (state, reason) logged last by the engine that crashed
    "1001": ("on_call", None),  # bridged with the adoption variables: adopted
    "1002": ("on_call", None),  # bridged, the variables never written: their phone is busy
    "1003": ("ready", None),  # their phone holds a call of their own
    "1004": ("reserved", None),  # an offer leg parked at their phone: killed, they are ready
    "1005": ("break", "lunch"),
    # 1006: nothing logged, but bridged to a caller of a queue since removed: busy; 1007: logged out
    "1007": ("logged_out", None),
}


def bridge(emu: Emulator, caller_number: str, phone: str, variables: str | None) -> tuple[str, str]:
    """A caller parked, an agent leg answered at ``phone``, both bridged; ``variables`` set on the caller."""
    caller = emu.place_call(Caller(caller_number), "park_me")
    emu.wait_until(lambda: emu.channels[caller].parked)
    leg = emu.commands.run("originate", f"{{hotline_call={caller}}}user/{phone} &park()").split()[1]
    assert emu.commands.run("uuid_bridge", f"{caller} {leg}").startswith("+OK")
    emu.wait_until(lambda: emu.channels[caller].bridged_to is emu.channels[leg])
    if variables is not None:
        assert emu.commands.run("uuid_setvar_multi", f"{caller} {variables}") == "+OK\n"
    return caller, leg


@pytest.fixture
def crashed(tmp_path: Path, db_url: str) -> Iterator[tuple[Emulator, dict[str, str], datetime]]:
    """The switch and database a crashed engine left; the uuids of what is on the switch."""
    emu = Emulator(password=secrets.token_hex(8), time_scale=0.01)
    emu.start()
    for phone in PHONES:
        emu.phones[phone] = Phone(phone, answer_delay=0.01)
    joined = datetime.now(UTC) - timedelta(minutes=3)
    bridged = joined + timedelta(seconds=40)

    def seeder(s) -> None:
        skills.create_skill(s, "sales")
        queues.create_queue(s, "sales", required_skills={"sales": 1}, wrap_up_seconds=0)
        for agent_id in PHONES:
            agents.create_agent(s, agent_id, name=agent_id, contact=f"user/{agent_id}", skills={"sales": 5})
        for agent_id, (state, reason) in LOGGED.items():
            agent_states.append_agent_state(s, agent_id, state, reason=reason, at=joined)

    seed(db_url, seeder)
    ids: dict[str, str] = {}
    variables = (
        f"hotline_queue=sales;hotline_priority=2;hotline_joined_at={joined.timestamp():.6f};"
        f"hotline_agent=1001;hotline_bridged_at={bridged.timestamp():.6f};hotline_flow=main;"
        "hotline_customer_id=424242"  # a customer removed since: recorded without
    )
    ids["adopted"], ids["adopted_leg"] = bridge(emu, "+442071234567", "1001", None)
    assert emu.commands.run("uuid_setvar_multi", f"{ids['adopted']} hotline_call_id={ids['adopted']};{variables}")
    ids["unmarked"], _ = bridge(emu, "+442071234568", "1002", None)
    removed = variables.replace("hotline_queue=sales", "hotline_queue=closed").replace("agent=1001", "agent=1006")
    ids["orphan"], _ = bridge(emu, "+442071234569", "1006", None)
    assert emu.commands.run("uuid_setvar_multi", f"{ids['orphan']} hotline_call_id={ids['orphan']};{removed}")
    ids["own_call"] = emu.commands.run("originate", "user/1003 &park()").split()[1]
    offer = "{hotline_offer=offer-7,hotline_call=x}user/1004 &park()"  # rung by the old engine, answered, parked
    ids["offer_leg"] = emu.commands.run("originate", offer).split()[1]
    try:
        yield emu, ids, bridged
    finally:
        emu.stop()


@contextmanager
def engine_on(emu: Emulator, tmp_path: Path, db_url: str) -> Iterator[tuple[Hotline, Queue]]:
    """A new engine started on the switch and database the crash left."""
    (tmp_path / "flows").mkdir(exist_ok=True)
    (tmp_path / "flows" / "main.yaml").write_text("flow: main\nnodes:\n  q:\n    queue: sales\n")
    config = load_config(
        None,
        {
            "data_dir": str(tmp_path / "data"),
            "database_url": db_url,
            "freeswitch": {"port": emu.port, "password": emu.password},
            "socket": {"port": 0},
            "http": {"port": 0},
            "agent_calls": {"wrap_up_seconds": 0},
            "flows_dir": str(tmp_path / "flows"),
        },
    )
    hotline = Hotline(config)
    recorded: Queue = Queue()
    hotline.call_recorded.append(recorded.put)
    ports = hotline.start(wait_for_freeswitch=5)
    emu.dialplan["4000"] = [("socket", f"127.0.0.1:{ports.socket} async full")]
    try:
        yield hotline, recorded
    finally:
        hotline.stop()


@pytest.fixture
def engine(crashed, tmp_path: Path, db_url: str) -> Iterator[tuple[Hotline, Queue]]:
    with engine_on(crashed[0], tmp_path, db_url) as started:
        yield started


def until(condition: Callable[[], object], timeout: float = 10.0) -> None:
    """Wait (bounded) for a condition the engine makes true after the switch's last event."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        gevent.sleep(0.02)  # the poll interval of this bounded wait


def states(hotline: Hotline) -> dict[str, str]:
    return {a["id"]: a["state"] for a in hotline.backend.agents_view()}


def test_agents_come_back_as_they_were_and_a_busy_phone_is_never_offered(crashed, engine) -> None:
    emu, ids, _ = crashed
    hotline, _ = engine
    outcome = hotline.adoption.done.get(timeout=10)
    assert outcome.adopted == [ids["adopted"]]
    assert outcome.killed == [ids["offer_leg"]]
    assert states(hotline) == {
        "1001": "on_call", "1002": "engaged", "1003": "engaged", "1004": "ready", "1005": "break",
        "1006": "engaged", "1007": "logged_out",
    }  # fmt: skip
    reasons = [a["reason"] for a in hotline.backend.agents_view() if a["id"] in ("1002", "1005")]
    assert reasons == ["phone_busy", "lunch"]
    emu.wait_until(lambda: ids["offer_leg"] not in emu.channels)
    newcomer = emu.place_call(Caller("+442079999999"), "4000")  # a new caller: only 1004 is free to take it
    emu.wait_until(lambda: (ch := emu.channels.get(newcomer)) is not None and ch.bridged_to is not None, timeout=10)
    assert emu.channels[newcomer].bridged_to.variables["dialed_user"] == "1004"
    until(lambda: states(hotline)["1004"] == "on_call")
    on_phone = [ch.variables.get("dialed_user") for ch in emu.channels.values()]
    busy = ("1001", "1002", "1003", "1004", "1006")
    assert {p: on_phone.count(p) for p in busy} == dict.fromkeys(busy, 1)  # one call per phone: none double-booked


def test_an_adopted_call_is_recorded_once_when_it_ends_with_its_own_times(crashed, engine) -> None:
    emu, ids, bridged = crashed
    hotline, recorded = engine
    hotline.adoption.done.get(timeout=10)
    emu.hangup(ids["adopted"], "NORMAL_CLEARING")
    trace: CallTrace = recorded.get(timeout=10)
    assert (trace.uuid, trace.caller, trace.queue, trace.priority, trace.agent_id, trace.flow) == (
        ids["adopted"], "+442071234567", "sales", 2, "1001", "main",
    )  # fmt: skip
    assert (trace.outcome, trace.hangup_cause) == ("answered", "NORMAL_CLEARING")
    assert abs((trace.bridged_at - bridged).total_seconds()) < 0.001
    record = hotline.backend.call_record(ids["adopted"])
    assert (record["agent"], record["queue"], record["outcome"]) == ("1001", "sales", "answered")
    assert [(s["agent"], s["how"]) for s in record["segments"]] == [("1001", "answered")]
    assert record["segments"][0]["talk_seconds"] >= 140  # from the bridge three minutes ago, not the adoption
    until(lambda: states(hotline)["1001"] == "ready")  # wrap-up 0 s: ready again
    assert recorded.empty()


def test_an_engaged_agent_is_ready_again_when_their_phone_is_free(crashed, engine) -> None:
    emu, ids, _ = crashed
    hotline, _ = engine
    hotline.adoption.done.get(timeout=10)
    emu.hangup(ids["own_call"], "NORMAL_CLEARING")
    until(lambda: states(hotline)["1003"] == "ready")
    assert states(hotline)["1002"] == "engaged"  # the unmarked call goes on: still busy


def test_a_call_that_already_has_a_cdr_is_adopted_but_not_recorded_twice(
    crashed, tmp_path: Path, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """E.g. written by an engine that stopped: the agent is still on the call, the record stays the one."""
    emu, ids, _ = crashed
    earlier = datetime.now(UTC) - timedelta(seconds=5)
    record = calls.CallRecord(
        uuid=ids["adopted"], caller_number="+442071234567", destination="4000", created_at=earlier,
        ended_at=earlier, outcome="answered", queue="sales", agent_id="1001",
    )  # fmt: skip
    db = make_engine(db_url)
    with session_factory(db).begin() as s:
        calls.record_finished_call(s, record, kind="inbound")
    db.dispose()
    caplog.set_level(logging.INFO, logger="engine.runtime.adopt")
    with engine_on(emu, tmp_path, db_url) as (hotline, recorded):
        assert hotline.adoption.done.get(timeout=10).adopted == [ids["adopted"]]
        assert states(hotline)["1001"] == "on_call"
        emu.hangup(ids["adopted"], "NORMAL_CLEARING")
        until(lambda: "its CDR was written by the engine that stopped" in caplog.text)
        assert "could not record" not in caplog.text
        assert hotline.metrics.value("hotline_calls_total", outcome="answered") == 0
        with hotline.sessions() as s:
            assert s.scalar(select(func.count()).select_from(CallRow).where(CallRow.uuid == ids["adopted"])) == 1
        assert recorded.empty()


def test_bridges_are_read_from_each_channel_not_from_freeswitchs_lagging_call_list(
    crashed, tmp_path: Path, db_url: str
) -> None:
    """FreeSWITCH writes `show calls` (its core database) behind the calls: a bridge made a moment before the
    crash was missing from it on a loaded machine, and the agent's leg was killed as a stale offer. The
    partners come from each channel's own ``bridge_to``; here `show calls` lists nothing at all."""
    emu, ids, _ = crashed
    shown = emu.commands.table["show"]
    emu.commands.table["show"] = lambda arg: '{"row_count":0}\n' if arg.startswith("calls") else shown(arg)
    with engine_on(emu, tmp_path, db_url) as (hotline, _):
        outcome = hotline.adoption.done.get(timeout=10)
        assert (outcome.adopted, outcome.killed) == ([ids["adopted"]], [ids["offer_leg"]])
        assert ids["adopted_leg"] in emu.channels and states(hotline)["1001"] == "on_call"


def test_only_offer_legs_of_another_engine_run_are_stale(crashed, engine) -> None:
    """The parked callers a new engine reclaims first are its calls before adoption runs: an offer leg is
    told apart by the run that rang it (``hotline_engine``), not by whether its call is known."""
    emu, _, _ = crashed
    hotline, _ = engine
    hotline.adoption.done.get(timeout=10)
    mine = f"{{hotline_offer=offer-1,hotline_call=c-1,hotline_engine={hotline.acd.run_id}}}user/1005 &park()"
    theirs = "{hotline_offer=offer-1,hotline_call=c-1,hotline_engine=0123456789ab}user/1007 &park()"
    own_leg, old_leg = (emu.commands.run("originate", dial).split()[1] for dial in (mine, theirs))
    stale = hotline.adoption.survey().stale_offers
    assert old_leg in stale and own_leg not in stale


def test_a_channel_freeswitch_did_not_describe_in_time_is_read_again_before_anyone_is_restored(
    crashed, tmp_path: Path, db_url: str
) -> None:
    """Under load FreeSWITCH can answer a ``uuid_dump`` too late (or with an error other than "No such
    channel"): that channel may be a live call, so the survey is taken again rather than restoring its agent
    as ready while they talk."""
    emu, ids, _ = crashed
    dump, failed = emu.commands.table["uuid_dump"], []

    def slow_once(arg: str) -> str:
        if arg.startswith(ids["adopted"]) and not failed:
            failed.append(arg)
            return "-ERR timed out\n"
        return dump(arg)

    emu.commands.table["uuid_dump"] = slow_once
    with engine_on(emu, tmp_path, db_url) as (hotline, _):
        outcome = hotline.adoption.done.get(timeout=10)
        assert failed and outcome.adopted == [ids["adopted"]]
        assert states(hotline)["1001"] == "on_call"
        assert outcome.surveyed["unreadable"] == 0 and outcome.surveyed["read"] == outcome.surveyed["listed"]

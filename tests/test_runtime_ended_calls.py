"""engine.runtime.ended_calls: calls that ended while no engine ran, recorded from FreeSWITCH's mod_hash.

Entries are written by hand in the format the dialplan's hook writes (dialplans/default.xml; checked on a
real FreeSWITCH in tests/test_realfs_adopt.py and through the emulator in tests/test_integration_crash.py),
then a new engine starts on the emulator (over real ESL) and is looked at through its records and the switch.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import gevent
import pytest

from engine.config import load_config
from engine.emulator import Emulator
from engine.runtime.ended_calls import BadEntry, EndedCalls, parse, trace_of
from engine.runtime.hotline import Hotline
from engine.store import agents, calls, customers, queues, skills
from tests.hotline_rig import seed

pytestmark = [pytest.mark.integration, pytest.mark.db]

CALLER = base64.urlsafe_b64encode(b"+442071234567").decode().rstrip("=")  # as reclaim.write_place writes it
ENDED = 1_796_600_000_000_000  # end_uepoch in microseconds: `date -u -d @1796600000` = 2026-12-06 23:33:20 UTC
TALKED = (  # queue, priority, joined, created, flow, caller, customer, agent, bridged, offered, answered, end, cause
    f"v1,sales,2,1796599800.000,1796599790.5,main,{CALLER},,1001,1796599850.25,1796599845.0,1796599791.0,"
    f"{ENDED},NORMAL_CLEARING"
)
WAITED = f"v1,sales,0,1796599900.000,1796599890.000,main,{CALLER},,,,,,{ENDED},ORIGINATOR_CANCEL"
IVR_ONLY = f"v1,,,,,,,,,,,,{ENDED},NORMAL_CLEARING"


def until(condition: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    """A bounded wait on work the engine's sweep greenlet does (the hash store fires no events)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        gevent.sleep(0.02)  # the poll interval of this bounded wait


def at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def test_an_answered_call_is_rebuilt_from_its_entry() -> None:
    entry = parse("c-1", TALKED)
    assert entry.ended_at == datetime(2026, 12, 6, 23, 33, 20, tzinfo=UTC)
    t = trace_of(entry)
    assert t is not None
    assert (t.uuid, t.caller, t.queue, t.priority, t.flow, t.agent_id, t.outcome, t.hangup_cause) == (
        "c-1", "+442071234567", "sales", 2, "main", "1001", "answered", "NORMAL_CLEARING",
    )  # fmt: skip
    assert (t.created_at, t.queued_at, t.offered_at, t.bridged_at, t.answered_at) == (
        at(1796599790.5), at(1796599800), at(1796599845), at(1796599850.25), at(1796599791),
    )  # fmt: skip
    assert t.ended_at == entry.ended_at


def test_a_caller_who_left_while_waiting_is_abandoned_and_one_who_never_queued_is_not_recorded() -> None:
    t = trace_of(parse("c-2", WAITED))
    assert t is not None
    assert (t.queue, t.agent_id, t.bridged_at, t.outcome, t.hangup_cause) == (
        "sales", None, None, "abandoned", "ORIGINATOR_CANCEL",
    )  # fmt: skip
    assert t.answered_at == t.created_at == at(1796599890)  # no answer time kept: the call's arrival
    assert trace_of(parse("c-3", IVR_ONLY)) is None


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("v2,sales", "version 'v2'"),
        ("v1,sales,0", "2 fields, not 13"),
        (TALKED.replace("sales", "sa;les"), "field queue"),
        (TALKED.replace("1001", "10 01"), "field agent"),
        (TALKED.replace("NORMAL_CLEARING", "normal"), "hangup cause 'normal'"),
        (TALKED.replace(str(ENDED), "soon"), "end time 'soon'"),
    ],
    ids=["version", "fields", "queue", "agent", "cause", "end"],
)
def test_an_entry_not_as_the_hook_writes_it_is_refused_by_name(value: str, named: str) -> None:
    with pytest.raises(BadEntry, match=named):
        parse("c-9", value)


@pytest.fixture
def switch() -> Iterator[Emulator]:
    emu = Emulator(password=secrets.token_hex(8), time_scale=0.01)
    emu.start()
    yield emu
    emu.stop()


def engine_on(emu: Emulator, tmp_path: Path, db_url: str, grace: float) -> Hotline:
    (tmp_path / "flows").mkdir(exist_ok=True)
    (tmp_path / "flows" / "main.yaml").write_text("flow: main\nnodes:\n  q:\n    queue: sales\n")
    config = load_config(
        None,
        {
            "data_dir": str(tmp_path / "data"), "database_url": db_url, "flows_dir": str(tmp_path / "flows"),
            "freeswitch": {"port": emu.port, "password": emu.password},
            "socket": {"port": 0}, "http": {"port": 0},
            "continuity": {"ended_grace_seconds": grace, "ended_sweep_seconds": 3600},
        },
    )  # fmt: skip
    return Hotline(config)


@pytest.fixture
def seeded(db_url: str) -> str:
    def fill(s) -> None:
        skills.create_skill(s, "sales")
        queues.create_queue(s, "sales", required_skills={"sales": 1})
        agents.create_agent(s, "1001", name="Ada", contact="user/1001", skills={"sales": 5})
        customers.create_customer(s, "Grace", region="CN", numbers=["+442071234567"])
        calls.record_finished_call(
            s,
            calls.CallRecord(
                uuid="c-known",
                caller_number="1",
                destination="4000",
                created_at=at(1796599000),
                ended_at=at(1796599100),
                outcome="answered",
            ),
        )

    seed(db_url, fill)
    return db_url


def test_a_new_engine_records_what_ended_while_none_ran_and_empties_the_realm(
    switch: Emulator, seeded: str, tmp_path: Path
) -> None:
    entries = {"c-talked": TALKED, "c-waited": WAITED, "c-ivr": IVR_ONLY, "c-known": WAITED, "c-bad": "v1,x"}
    switch.hashes.items.update({f"hotline_ended_{k}": v for k, v in entries.items()})
    switch.hashes.items["other_realm_key"] = "kept"
    engine = engine_on(switch, tmp_path, seeded, grace=0)
    recorded = []
    engine.call_recorded.append(lambda trace: recorded.append(trace.uuid))
    engine.start(wait_for_freeswitch=5)
    try:
        until(lambda: set(switch.hashes.items) == {"other_realm_key"}, "the realm swept")
        assert engine.writer.wait_idle(10)
        assert sorted(recorded) == ["c-talked", "c-waited"]
        talked, waited = engine.backend.call_record("c-talked"), engine.backend.call_record("c-waited")
        assert (talked["outcome"], talked["agent"], talked["queue"], talked["caller"]) == (
            "answered", "1001", "sales", "+442071234567",
        )  # fmt: skip
        assert datetime.fromisoformat(talked["ended_at"]) == datetime(2026, 12, 6, 23, 33, 20, tzinfo=UTC)
        assert [(s["agent"], s["how"]) for s in talked["segments"]] == [("1001", "answered")]
        assert (waited["outcome"], waited["agent"], waited["hangup_cause"]) == ("abandoned", None, "ORIGINATOR_CANCEL")
        assert engine.backend.call_record("c-known")["caller"] == "1"  # the CDR it had: not written again
        with pytest.raises(KeyError):
            engine.backend.call_record("c-ivr")
        counts = {r: engine.metrics.value("hotline_switch_ended_calls_total", result=r) for r in
                  ("recorded", "known", "unrecordable")}  # fmt: skip
        assert counts == {"recorded": 2, "known": 1, "unrecordable": 2}
    finally:
        engine.stop()


def test_nothing_is_swept_too_soon_or_while_the_database_writer_is_behind(
    switch: Emulator, seeded: str, tmp_path: Path
) -> None:
    switch.hashes.items["hotline_ended_c-waited"] = WAITED
    engine = engine_on(switch, tmp_path, seeded, grace=0)
    engine.control.start(wait=5)
    try:
        behind = EndedCalls(engine.control, engine.sessions, engine.records.record_call, engine.metrics,
                            writer_ready=lambda: False, live=lambda _uuid: False)  # fmt: skip
        assert behind.sweep().skipped and "hotline_ended_c-waited" in switch.hashes.items
        soon = EndedCalls(engine.control, engine.sessions, engine.records.record_call, engine.metrics,
                          writer_ready=lambda: True, live=lambda _uuid: False, grace_seconds=1e12)  # fmt: skip
        swept = soon.sweep()
        assert (swept.recorded, swept.kept) == ([], 1) and "hotline_ended_c-waited" in switch.hashes.items
        still_live = EndedCalls(engine.control, engine.sessions, engine.records.record_call, engine.metrics,
                                writer_ready=lambda: True, live=lambda uuid: uuid == "c-waited")  # fmt: skip
        assert still_live.sweep().kept == 1
    finally:
        engine.control.stop()
        engine.writer.stop()
        engine.db.dispose()

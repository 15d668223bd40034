"""Callers keep their place (engine/runtime/reclaim.py): through the emulator running the shipped
dialplan, with the engine killed for real (SIGKILL to a ``hotline run`` process) and a new one started."""

from __future__ import annotations

import signal

import pytest
from sqlalchemy import select

from engine.emulator import Caller, Phone
from engine.runtime.reclaim import BadPlace, Place, bounded, parse_place, place_variables
from engine.store.db import make_engine, session_factory
from engine.store.models import Call
from tests.acd_rig import wait_until
from tests.hotline_rig import HOTLINE_NUMBER
from tests.park_rig import park_rig


def queued(rig, uuid: str) -> bool:
    return rig.var(uuid, "hotline_queue") == "sales"


def test_killed_engine_its_waiting_callers_parked_then_reclaimed_in_order_and_answered(tmp_path, db_url) -> None:
    with park_rig(tmp_path, db_url) as rig:
        first = rig.spawn()
        callers = []
        for key in ("1", "1", "2"):  # two at priority 0, then one urgent (priority 5)
            uuid = rig.emulator.place_call(
                Caller(f"1390000000{len(callers)}", script=[key], talk_seconds=2), HOTLINE_NUMBER
            )
            wait_until(lambda u=uuid: queued(rig, u), what=f"caller {len(callers)} queued")
            callers.append(uuid)
        joined = [float(rig.var(u, "hotline_joined_at")) for u in callers]
        assert joined == sorted(joined) and rig.var(callers[2], "hotline_priority") == "5"

        first.send_signal(signal.SIGKILL)  # kill -9: nothing is written, no socket says goodbye
        first.wait(timeout=30)
        for uuid in callers:  # each caller's music chunk ends, the dialplan parks them
            wait_until(lambda u=uuid: rig.var(u, "hotline_parked") == "true", what="the caller parked")
        assert all(rig.emulator.channels[u].alive for u in callers)
        assert all("execute_extension" in rig.executed(u) and "bridge" not in rig.executed(u) for u in callers)

        engine = rig.start_in_process()  # reclaims before it takes calls
        acd = engine.acd.acd
        order = sorted(callers, key=lambda u: acd.position(u) or 99)
        assert order == [callers[2], callers[0], callers[1]]  # priority first, then original join order
        assert engine.reclaimer.reclaimed == 3
        assert all(rig.var(u, "hotline_parked") == "false" for u in callers)
        traces = []
        engine.call_recorded.append(traces.append)
        rig.emulator.phones["1001"] = Phone("1001", answer_delay=0.5)
        rig.login()
        wait_until(lambda: len(traces) == 3, timeout=60, what="the three calls answered and recorded")

    assert [t.uuid for t in sorted(traces, key=lambda t: t.bridged_at)] == order
    assert all(t.outcome == "answered" and t.agent_id == "1001" for t in traces)
    for trace, join in zip(sorted(traces, key=lambda t: callers.index(t.uuid)), joined, strict=True):
        assert trace.queued_at is not None and abs(trace.queued_at.timestamp() - join) < 0.01  # the original join
        assert trace.flow == "main" and trace.ivr_path[:1] == ["main/pick"]
    engine_db = make_engine(db_url)
    with session_factory(engine_db)() as s:
        rows = s.scalars(select(Call.uuid).where(Call.uuid.in_(callers))).all()
    engine_db.dispose()
    assert sorted(rows) == sorted(callers)  # one CDR each, none from the killed engine


def test_nobody_back_before_the_timer_the_fallback_runs(tmp_path, db_url) -> None:
    with park_rig(tmp_path, db_url, reclaim_seconds=5) as rig:
        engine = rig.spawn()
        uuid = rig.emulator.place_call(Caller("13900000001", script=["1"]), HOTLINE_NUMBER)
        wait_until(lambda: queued(rig, uuid), what="the caller queued")
        engine.send_signal(signal.SIGKILL)
        engine.wait(timeout=30)
        wait_until(lambda: rig.var(uuid, "hotline_parked") == "true", what="the caller parked")
        wait_until(lambda: rig.var(uuid, "hotline_fallback") == "true", what="the fallback after the timer")
        wait_until(lambda: "bridge" in rig.executed(uuid), what="the fallback's ring group")
        ran = rig.executed(uuid)
        park = ran.index("execute_extension", ran.index("execute_extension") + 1)  # after hotline_standby's
        assert ran[park + 1 : park + 6] == ["set", "log", "set", "set", "playback"]  # hotline_park's music
        assert ran.index("bridge") > park + 5
        data = [
            e.get("Application-Data") for e in rig.emulator.events if e.uuid == uuid and e.name == "CHANNEL_EXECUTE"
        ]
        assert "playback_timeout_sec=5" in data  # the park's timer, from hotline_reclaim_seconds


def test_engine_down_before_the_call_arrives_fallback_at_once(tmp_path, db_url) -> None:
    with park_rig(tmp_path, db_url) as rig:  # no engine started: the socket is refused
        uuid = rig.emulator.place_call(Caller("13900000001"), HOTLINE_NUMBER)
        wait_until(lambda: rig.var(uuid, "hotline_fallback") == "true", what="the fallback")
        ran = rig.executed(uuid)
        # hotline_standby (no standby socket configured) and hotline_park matched nothing
        assert ran[:5] == ["set", "socket", "execute_extension", "execute_extension", "set"]  # the hang-up hook first
        assert rig.var(uuid, "hotline_parked") is None


def test_place_variables_round_trip_and_stay_plain_on_the_wire() -> None:
    place = Place("sales", 5, 1_700_000_000.25, 1_699_999_990.5, "main", ["main/pick"], {"pin": "1;2 $x\n"})
    values = place_variables(place)
    assert all(";" not in v and "$" not in v and " " not in v and "\n" not in v for v in values.values())
    assert parse_place(values) == place


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("hotline_queue", "sa les", "hotline_queue"),
        ("hotline_priority", "1.5", "hotline_priority"),
        ("hotline_joined_at", "nan", "hotline_joined_at"),
        ("hotline_joined_at", "soon", "hotline_joined_at"),
        ("hotline_inputs", "%%%", "hotline_inputs"),
        ("hotline_inputs", "WzFd", "hotline_inputs"),  # base64 of [1]: not an object
        ("hotline_flow", "../x", "hotline_flow"),
    ],
)
def test_a_bad_place_names_the_variable(name: str, value: str, message: str) -> None:
    values = place_variables(Place("sales", 0, 1.0, 1.0, "main", [], {}))
    with pytest.raises(BadPlace, match=message):
        parse_place({**values, name: value})


@pytest.mark.parametrize(
    ("music", "expected"),
    [
        ("local_stream://moh", "{timeout=20000}local_stream://moh"),
        ("{loops=2}hold.wav", "{loops=2,timeout=20000}hold.wav"),
        ("{timeout=5}local_stream://moh", "{timeout=20000}local_stream://moh"),
    ],
)
def test_hold_music_is_sent_in_chunks_that_end_by_themselves(music: str, expected: str) -> None:
    assert bounded(music, 20) == expected
    assert bounded(music, 0) == music

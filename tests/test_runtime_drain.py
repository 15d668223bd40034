"""A clean stop (engine/runtime/drain.py): SIGTERM to ``hotline run`` on the emulator running the shipped
dialplan. No new calls, waiting callers handed on at once, talking calls finish and are recorded."""

from __future__ import annotations

import signal

from sqlalchemy import select

from engine.emulator import Caller, Phone
from engine.store.db import make_engine, session_factory
from engine.store.models import Call
from tests.acd_rig import wait_until
from tests.hotline_rig import HOTLINE_NUMBER
from tests.park_rig import park_rig


def recorded(db_url: str, uuids: list[str]) -> dict[str, str]:
    """uuid -> outcome of the CDRs written for ``uuids``."""
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as s:
            return {c.uuid: str(c.outcome) for c in s.scalars(select(Call).where(Call.uuid.in_(uuids)))}
    finally:
        engine.dispose()


def test_sigterm_hands_waiting_callers_on_lets_talk_finish_then_exits(tmp_path, db_url) -> None:
    with park_rig(tmp_path, db_url, continuity={"drain_park_seconds": 300}) as rig:
        proc = rig.spawn()
        rig.emulator.phones["1001"] = Phone("1001", answer_delay=0.5)
        rig.login()
        talking = rig.emulator.place_call(Caller("13900000001", script=["1"], talk_seconds=60), HOTLINE_NUMBER)
        wait_until(lambda: rig.emulator.channels[talking].bridged_to is not None, what="the first caller talking")
        waiting = rig.emulator.place_call(Caller("13900000002", script=["1"], talk_seconds=2), HOTLINE_NUMBER)
        wait_until(lambda: rig.var(waiting, "hotline_queue") == "sales", what="the second caller queued")

        proc.send_signal(signal.SIGTERM)
        wait_until(lambda: rig.var(waiting, "hotline_parked") == "true", what="the waiting caller handed to the park")
        assert rig.var(waiting, "hotline_reclaim_seconds") == "300"  # the drain's park timer, not the rig's 600
        assert rig.emulator.channels[talking].bridged_to is not None and proc.poll() is None  # talk goes on

        late = rig.emulator.place_call(Caller("13900000003"), HOTLINE_NUMBER)  # the socket is closed: fallback
        wait_until(lambda: rig.var(late, "hotline_fallback") == "true", what="a new call to the fallback")
        assert rig.var(late, "hotline_parked") is None and rig.var(late, "hotline_queue") is None

        rig.emulator.hangup(talking)  # the talking call ends: its record is written, then the engine exits
        assert proc.wait(timeout=60) == 0
        assert recorded(db_url, [talking, waiting, late]) == {talking: "answered"}  # the parked one: not yet

        engine = rig.start_in_process()  # the next engine takes the parked caller back and serves them
        assert engine.reclaimer.reclaimed == 1
        # the agent logged in before the drain comes back as they were (runtime/adopt.py): no new login
        wait_until(lambda: str(engine.acd.agent_state("1001")) == "ready", timeout=60, what="1001 restored ready")
        wait_until(lambda: waiting in recorded(db_url, [waiting]), timeout=60, what="the parked caller answered")
    assert recorded(db_url, [talking, waiting, late]) == {talking: "answered", waiting: "answered"}


def test_drain_without_a_park_sends_waiting_callers_to_the_fallback_and_records_them(tmp_path, db_url) -> None:
    with park_rig(tmp_path, db_url, continuity={"drain_park_seconds": 0}) as rig:
        engine = rig.start_in_process()
        waiting = rig.emulator.place_call(Caller("13900000002", script=["1"]), HOTLINE_NUMBER)
        wait_until(lambda: rig.var(waiting, "hotline_queue") == "sales", what="the caller queued")
        assert engine.drain() == {"handed_on": 1, "cut": 0}
        wait_until(lambda: rig.var(waiting, "hotline_fallback") == "true", what="the fallback")
        assert rig.var(waiting, "hotline_parked") is None  # hotline_reclaim_seconds=0: hotline_park skipped
        # the record is written off the event loop (engine/store/writer.py): wait for it, then check it
        wait_until(lambda: waiting in recorded(db_url, [waiting]), what="the handed-on caller's record")
        assert recorded(db_url, [waiting]) == {waiting: "transferred"}

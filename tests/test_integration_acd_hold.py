"""Hold time on the emulator: the agent holds the caller from the API and from their phone's hold
button; FreeSWITCH's CHANNEL_HOLD / CHANNEL_UNHOLD timestamps (the emulator's clock is moved ahead
by a known span while held) end up in the CDR, the metrics and the agent report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from gevent.queue import Queue

from engine.acd.reports import agent_performance
from engine.emulator import Caller, Phone
from engine.store import acd_reports, calls
from tests.acd_rig import acd_rig, login, talking, wait_until
from tests.hotline_rig import HOTLINE_NUMBER

pytestmark = [pytest.mark.integration, pytest.mark.db]

SLACK = 2.0  # real time between the hold and the resume, on top of the span the clock jumps


def next_hold(feed: Queue) -> dict:
    while True:
        message = feed.get(timeout=5)
        if message["kind"] == "call_hold":
            return message["data"]


def test_holds_from_the_api_and_the_phone_are_timed_by_freeswitch_and_recorded(tmp_path, db_url) -> None:
    with acd_rig(tmp_path, db_url, {"1001": {"sales": 5}}, {}) as rig:
        rig.emulator.phones["1001"] = Phone("1001", answer_delay=1)
        started = datetime.now(UTC)
        feed = rig.feed("1001")
        login(rig, "1001")
        uuid = rig.emulator.place_call(Caller("13900000001", script=["1"]), HOTLINE_NUMBER)
        wait_until(lambda: talking(rig, "1001"), what="1001 talking")
        me = rig.agent_tokens["1001"]

        agent_leg = rig.engine.acd.agent_legs[uuid]
        assert rig.api("POST", "/api/agents/1001/call/hold", me)[1]["leg"] == agent_leg  # uuid_hold on the agent's leg
        assert next_hold(feed) == {"call_id": uuid, "on_hold": True, "leg": agent_leg}
        rig.emulator.switch.advance(40)
        assert rig.api("POST", "/api/agents/1001/call/hold", me)[0] == 409  # already held: -ERR Operation failed
        assert rig.api("POST", "/api/agents/1001/call/unhold", me)[0] == 200
        assert next_hold(feed)["on_hold"] is False

        rig.emulator.press_hold(uuid)  # the caller's phone puts the agent on hold
        assert next_hold(feed) == {"call_id": uuid, "on_hold": True, "leg": uuid}
        rig.emulator.switch.advance(5)
        rig.emulator.press_hold(uuid, False)
        assert next_hold(feed)["on_hold"] is False

        rig.emulator.hangup(uuid)
        rig.next_call()
        with rig.engine.sessions() as s:
            cdr = calls.get_call(s, uuid)
            assert cdr.hold_count == 2
            assert 45 <= cdr.hold_seconds < 45 + SLACK
            until = datetime.now(UTC) + timedelta(seconds=1)
            report = agent_performance(
                "1001",
                acd_reports.agent_states(s, "1001", started, until),
                acd_reports.agent_calls(s, "1001", started, until),
                until=until,
            )
        assert report.calls == 1 and report.holds == 2
        assert report.hold_seconds == pytest.approx(cdr.hold_seconds)
        m = rig.engine.metrics
        assert m.value("hotline_queue_holds_total", queue="sales") == 2
        assert m.value("hotline_queue_hold_seconds_count", queue="sales") == 1
        assert 45 <= m.value("hotline_queue_hold_seconds_sum", queue="sales") < 45 + SLACK
        assert m.value("hotline_agent_occupancy", agent="1001") > 0
        assert m.value("hotline_queue_occupancy", queue="sales") > 0
        assert m.value("hotline_agent_state_seconds_total", state="on_call") > 0
        wait_until(lambda: m.value("hotline_queue_agents", queue="sales", state="ready") == 1, what="1001 ready")
        assert m.value("hotline_queue_wrap_seconds_count", queue="sales") == 1  # a wrap-up of 0 s is one too


def test_a_phone_hold_still_on_at_hang_up_ends_with_the_call(tmp_path, db_url) -> None:
    with acd_rig(tmp_path, db_url, {"1001": {"sales": 5}}, {}) as rig:
        rig.emulator.phones["1001"] = Phone("1001", answer_delay=1, hold_after=50, hold_seconds=10_000)
        feed = rig.feed("1001")
        login(rig, "1001")
        uuid = rig.emulator.place_call(Caller("13900000001", script=["1"]), HOTLINE_NUMBER)
        assert next_hold(feed)["on_hold"] is True  # 50 emulated seconds after the agent answered
        rig.emulator.hangup(uuid)
        rig.next_call()
        with rig.engine.sessions() as s:
            cdr = calls.get_call(s, uuid)
        assert (cdr.outcome, cdr.hold_count) == ("answered", 1)
        assert 0 < cdr.hold_seconds < SLACK  # ended when the call was recorded, not left open
        assert rig.engine.metrics.value("hotline_queue_hold_seconds_count", queue="sales") == 1

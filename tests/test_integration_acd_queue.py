"""A queued call's life through the whole call path on the emulator: an agent who does not
answer (delay, re-queue at the head, break after max_no_answer) and a caller who gives up."""

from __future__ import annotations

import pytest

from engine.emulator import Caller, Phone
from engine.store import agent_states
from tests.acd_rig import SkipClock, acd_rig, login, next_state, wait_until
from tests.hotline_rig import HOTLINE_NUMBER

pytestmark = [pytest.mark.integration, pytest.mark.db]

SKILLS = {"1001": {"sales": 5}, "1002": {"sales": 5}}


def next_offer(feed) -> dict:
    while True:
        message = feed.get(timeout=5)
        if message["kind"] == "screen_pop" and message["data"]["phase"] == "offer":
            return message["data"]


def test_no_answer_requeues_at_the_head_delays_the_agent_then_breaks_them(tmp_path, db_url) -> None:
    # ring 50 emulated seconds = 0.5 s real; the ACD's delay is in real seconds
    options = {"sales": {"ring_timeout_seconds": 50, "no_answer_delay_seconds": 0.5, "max_no_answer": 2}}
    with acd_rig(tmp_path, db_url, SKILLS, options) as rig:
        rig.emulator.phones["1001"] = Phone("1001", behaviour="no_answer")
        rig.emulator.phones["1002"] = Phone("1002", answer_delay=2)
        rig.ready("1001")
        feed = rig.feed("1001")
        first = rig.emulator.place_call(Caller("13900000001", script=["1"], talk_seconds=10), HOTLINE_NUMBER)
        assert next_offer(feed)["call_id"] == first
        second = rig.emulator.place_call(Caller("13900000002", script=["1"], talk_seconds=10), HOTLINE_NUMBER)
        wait_until(lambda: second in rig.engine.acd.acd.snapshot().calls, what="the second call queued")

        assert next_offer(feed)["call_id"] == first  # re-queued at the head, offered again after the delay
        while (state := next_state(feed))["state"] != "break":
            pass
        assert state["reason"] == "no_answer"

        assert login(rig, "1002") == "reserved"  # offered the head call at once
        traces = {t.uuid: t for t in (rig.next_call(), rig.next_call())}
        assert traces[first].agent_id == traces[second].agent_id == "1002"
        assert traces[first].bridged_at < traces[second].bridged_at  # the second caller did not jump ahead

        with rig.engine.sessions() as s:
            log = [(c.state, c.reason, c.at) for c in agent_states.list_agent_states(s, "1001")]
        assert [(state, reason) for state, reason, _ in log] == [
            ("ready", None),
            ("reserved", None),
            ("ready", "no_answer"),  # back after the no-answer, held out by the delay
            ("reserved", None),
            ("break", "no_answer"),
        ]
        assert (log[3][2] - log[2][2]).total_seconds() >= 0.45  # the no-answer delay held 1001 out
        m = rig.engine.metrics
        assert m.value("hotline_offers_total", result="no_answer") == 2
        assert m.value("hotline_queue_offers_total", queue="sales", result="no_answer") == 2
        assert m.value("hotline_queue_offers_total", queue="sales", result="answered") == 2
        assert m.value("hotline_queue_talk_seconds_count", queue="sales") == 2


def test_caller_who_gives_up_is_abandoned_and_counted(tmp_path, db_url) -> None:
    with acd_rig(tmp_path, db_url, SKILLS, {}) as rig:
        # the caller gives up once queued (a patience counts from the call's start: 0.5 s of real time could
        # be spent in the menu on a loaded machine, and the call would never reach the queue)
        uuid = rig.emulator.place_call(Caller("13900000001", script=["1"], patience_seconds=100_000), HOTLINE_NUMBER)
        wait_until(lambda: uuid in rig.engine.acd.acd.snapshot().calls, what="the call queued")
        rig.emulator.hangup(uuid)
        trace = rig.next_call()
        assert trace.outcome == "abandoned" and trace.queue == "sales" and trace.agent_id is None
        status = rig.engine.acd.acd.queue_status("sales", rig.engine.acd.clock())
        assert (status.waiting, status.stats.arrived, status.stats.abandoned) == (0, 1, 1)
        m = rig.engine.metrics
        assert m.value("hotline_queue_wait_seconds_count", queue="sales", outcome="abandoned") == 1
        assert m.value("hotline_calls_total", outcome="abandoned") == 1


def test_caller_who_calls_back_soon_after_abandoning_resumes_their_place(tmp_path, db_url) -> None:
    with acd_rig(tmp_path, db_url, SKILLS, {"sales": {"resume_seconds": 60}}) as rig:
        rig.emulator.phones["1001"] = Phone("1001", answer_delay=2)
        queued = lambda uuid: lambda: uuid in rig.engine.acd.acd.snapshot().calls  # noqa: E731
        first = rig.emulator.place_call(Caller("13900000001", script=["1"], patience_seconds=100_000), HOTLINE_NUMBER)
        wait_until(queued(first), what="the first call queued")
        other = rig.emulator.place_call(Caller("13900000002", script=["1"], talk_seconds=10), HOTLINE_NUMBER)
        wait_until(queued(other), what="the other call queued")
        rig.emulator.hangup(first)  # the first caller gives up, behind nobody
        assert rig.next_call().outcome == "abandoned"
        back = rig.emulator.place_call(Caller("13900000001", script=["1"], talk_seconds=10), HOTLINE_NUMBER)
        wait_until(queued(back), what="the caller queued again")
        assert rig.engine.acd.acd.position(back) == 1 and rig.engine.acd.acd.snapshot().calls[back].resumed

        assert login(rig, "1001") == "reserved"
        traces = {t.uuid: t for t in (rig.next_call(), rig.next_call())}
        assert traces[back].bridged_at < traces[other].bridged_at


def test_an_agent_who_answers_at_once_talks_with_no_hold_music_over_them(tmp_path, db_url) -> None:
    # the answer races the hold music being queued on the caller; the rig fails the test if anything
    # played inside the bridge (FreeSWITCH runs applications queued on a bridged channel there)
    with acd_rig(tmp_path, db_url, SKILLS, {}) as rig:
        rig.emulator.phones["1001"] = Phone("1001", answer_delay=0)
        rig.ready("1001")
        uuid = rig.emulator.place_call(Caller("13900000001", script=["1"], talk_seconds=5), HOTLINE_NUMBER)
        trace = rig.next_call()
        assert (trace.uuid, trace.outcome, trace.agent_id) == (uuid, "answered", "1001")
        assert rig.engine.metrics.value("hotline_queue_talk_seconds_count", queue="sales") == 1


def test_a_bridge_freeswitch_accepted_but_never_made_is_made_again(tmp_path, db_url) -> None:
    config = {"freeswitch": {"bridge_confirm_seconds": 0.3}}
    with acd_rig(tmp_path, db_url, SKILLS, {}, config=config) as rig:
        rig.emulator.phones["1001"] = Phone("1001", answer_delay=0.5)
        rig.emulator.lose_bridges(1)
        rig.ready("1001")
        uuid = rig.emulator.place_call(Caller("13900000001", script=["1"], talk_seconds=5), HOTLINE_NUMBER)
        trace = rig.next_call()
        assert (trace.uuid, trace.outcome, trace.agent_id) == (uuid, "answered", "1001")
        assert rig.emulator.commands.lost_bridges == 0  # the first bridge was lost, the second made
        m = rig.engine.metrics
        assert m.value("hotline_offers_total", result="answered") == 1  # the same answer, not a new offer
        assert m.value("hotline_queue_bridge_failures_total", queue="sales", reason="no_bridge_event") == 0


def test_a_bridge_that_never_forms_sends_the_call_back_to_the_head_and_frees_the_agent(tmp_path, db_url) -> None:
    config = {"freeswitch": {"bridge_confirm_seconds": 0.3}}
    clock = SkipClock()  # the failed delay (60 s) is skipped once the call is seen back in the queue
    with acd_rig(tmp_path, db_url, SKILLS, {"sales": {"failed_delay_seconds": 60}}, config, clock) as rig:
        rig.emulator.phones["1001"] = Phone("1001", answer_delay=0.5)
        rig.emulator.lose_bridges(2)
        rig.ready("1001")
        feed = rig.feed("1001")
        uuid = rig.emulator.place_call(Caller("13900000001", script=["1"], talk_seconds=5), HOTLINE_NUMBER)
        while (state := next_state(feed))["state"] != "ready":
            pass
        assert state["reason"] == "bridge_failed"  # no wrap-up: they never spoke to the caller
        assert rig.engine.acd.acd.snapshot().calls[uuid].state == "queued"
        clock.skip(60)
        trace = rig.next_call()  # offered again after the failed delay, and bridged this time
        assert (trace.uuid, trace.outcome, trace.agent_id) == (uuid, "answered", "1001")

        legs = [
            e.uuid
            for e in rig.emulator.events
            if e.name == "CHANNEL_ANSWER" and e.get("Channel-Name", "").startswith("sofia/internal/1001@")
        ]
        assert len(legs) == 2  # the first leg was released: the phone rang again
        music, events = "{timeout=20000}local_stream://moh", rig.emulator.events  # in 20 s chunks
        released = next(i for i, e in enumerate(events) if e.name == "CHANNEL_HANGUP" and e.uuid == legs[0])
        plays = [e for e in events[released:] if e.uuid == uuid and e.get("Application-Data") == music]
        assert plays, "the caller heard hold music again while back in the queue"
        m = rig.engine.metrics
        assert m.value("hotline_queue_bridge_failures_total", queue="sales", reason="no_bridge_event") == 1
        assert m.value("hotline_offers_total", result="answered") == 2
        with rig.engine.sessions() as s:
            log = [(c.state, c.reason) for c in agent_states.list_agent_states(s, "1001")]
        assert log[:5] == [
            ("ready", None),
            ("reserved", None),
            ("on_call", None),
            ("ready", "bridge_failed"),
            ("reserved", None),
        ]

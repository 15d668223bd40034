"""Calls that wait too long leave the queue for the queue's exit target, carried out by the call
session: another flow, another queue, a voicemail message or a callback request."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from engine.emulator import Caller, Phone
from engine.store.models import Interaction
from tests.acd_rig import acd_rig
from tests.hotline_rig import HOTLINE_NUMBER

pytestmark = [pytest.mark.integration, pytest.mark.db]


@pytest.mark.parametrize("target", ["flow:overflow", "queue:backup"])
def test_max_wait_sends_the_call_on_to_be_answered_elsewhere(tmp_path, db_url, target) -> None:
    options = {"sales": {"max_wait_seconds": 1, "exit_target": target}}
    with acd_rig(tmp_path, db_url, {"1002": {"backup": 3}}, options) as rig:
        rig.emulator.phones["1002"] = Phone("1002", answer_delay=1)
        rig.ready("1002")
        rig.emulator.place_call(Caller("13900000001", script=["1"], talk_seconds=10), HOTLINE_NUMBER)
        trace = rig.next_call()
        assert trace.outcome == "answered" and trace.agent_id == "1002" and trace.queue == "backup"
        assert (trace.bridged_at - trace.queued_at).total_seconds() >= 1  # queued_at: first queue entry
        assert ("overflow/sorry" in trace.ivr_path) == target.startswith("flow:")
        exits = rig.engine.metrics.value("hotline_queue_exits_total", queue="sales", reason="max_wait", target=target)
        assert exits == 1


def test_max_wait_to_voicemail_records_a_message_that_becomes_a_callback_task(tmp_path, db_url) -> None:
    options = {"sales": {"max_wait_seconds": 1, "exit_target": "voicemail"}}
    with acd_rig(tmp_path, db_url, {"1001": {"sales": 3}}, options) as rig:
        uuid = rig.emulator.place_call(Caller("13900000001", script=["1"]), HOTLINE_NUMBER)
        trace = rig.next_call()
        assert (trace.outcome, trace.kind, trace.queue) == ("voicemail", "callback", "sales")
        assert trace.recording and Path(trace.recording).name.startswith("voicemail-sales")
        with rig.engine.sessions() as s:
            interaction = s.scalars(select(Interaction).where(Interaction.call_uuid == uuid)).one()
        assert interaction.recording_path == trace.recording


def test_max_wait_to_callback_keeps_the_callers_place(tmp_path, db_url) -> None:
    options = {"sales": {"max_wait_seconds": 1, "exit_target": "callback"}}
    with acd_rig(tmp_path, db_url, {"1001": {"sales": 3}}, options) as rig:
        uuid = rig.emulator.place_call(Caller("13900000001", script=["1"]), HOTLINE_NUMBER)
        trace = rig.next_call()
        assert (trace.outcome, trace.kind, trace.recording) == ("transferred", "inbound", None)
        [callback] = rig.engine.callbacks.views()  # tests/test_integration_acd_callbacks.py: the rest
        assert (callback["call"], callback["number"], callback["status"]) == (uuid, "13900000001", "pending")

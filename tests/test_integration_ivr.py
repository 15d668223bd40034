"""The shipped IVR flows, end to end through the engine on the emulator (keys and speech)."""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from engine.emulator import Caller, Phone
from engine.store.models import Call, Interaction
from engine.store.surveys import scores_for_call
from tests.acd_rig import wait_until
from tests.hotline_rig import HOTLINE_NUMBER, seed, start_rig
from tests.test_integration_call_path import CALLER, _seed

pytestmark = [pytest.mark.integration, pytest.mark.db]

REPO_FLOWS = Path(__file__).parents[1] / "ivr_flows"


@pytest.fixture
def flows_dir(tmp_path) -> Path:
    target = tmp_path / "flows"
    shutil.copytree(REPO_FLOWS, target)
    return target


def _rig(tmp_path, db_url, **kwargs):
    seed(db_url, _seed)
    return contextmanager(start_rig)(tmp_path, db_url, ["1001"], **kwargs)


def test_spoken_choice_reaches_the_queue_and_counts_per_node(tmp_path, db_url):
    with _rig(tmp_path, db_url) as rig:
        rig.emulator.phones["1001"] = Phone("1001", answer_delay=0.5)
        rig.ready("1001")
        uuid = rig.emulator.place_call(Caller(CALLER, script=["say:support"], talk_seconds=5), HOTLINE_NUMBER)
        trace = rig.next_call()
        assert (trace.uuid, trace.outcome, trace.queue) == (uuid, "answered", "support")
        m = rig.engine.metrics
        assert m.value("hotline_ivr_node_entries_total", flow="main", node="main_menu") == 1
        assert m.value("hotline_ivr_exits_total", flow="main", outcome="queued") == 1
        assert m.value("hotline_ivr_seconds_count", flow="main") == 1


def test_wrong_key_then_silence_are_counted_as_nomatch_and_noinput(tmp_path, db_url):
    with _rig(tmp_path, db_url) as rig:
        rig.ready("1001")
        rig.emulator.phones["1001"] = Phone("1001", answer_delay=0.5)
        rig.emulator.place_call(Caller(CALLER, script=["9", "noinput", "2"], talk_seconds=5), HOTLINE_NUMBER)
        assert rig.next_call().queue == "support"
        m = rig.engine.metrics
        assert m.value("hotline_ivr_input_failures_total", flow="main", node="main_menu", kind="nomatch") == 1
        assert m.value("hotline_ivr_input_failures_total", flow="main", node="main_menu", kind="noinput") == 1


def test_after_hours_message_becomes_a_callback_interaction_with_the_recording(tmp_path, db_url):
    night = datetime(2026, 11, 23, 22, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    with _rig(tmp_path, db_url, flow_clock=lambda: night) as rig:
        uuid = rig.emulator.place_call(Caller(CALLER, script=[]), HOTLINE_NUMBER)
        trace = rig.next_call()
        assert trace.uuid == uuid and trace.outcome == "voicemail"
        assert any(step.startswith("after_hours/") for step in trace.ivr_path)
        with rig.engine.sessions() as s:
            interaction = s.scalars(select(Interaction).where(Interaction.call_uuid == uuid)).one()
            call = s.scalars(select(Call).where(Call.uuid == uuid)).one()
        assert interaction.kind == "callback" and call.outcome == "voicemail"
        assert interaction.recording_path and Path(interaction.recording_path).exists()


def test_fax_on_demand_sends_the_chosen_document_on_this_line(tmp_path, db_url):
    fax_dir = tmp_path / "fax"
    fax_dir.mkdir()
    (fax_dir / "price_list.tiff").write_bytes(b"II*\x00")
    with _rig(tmp_path, db_url, config={"fax_dir": str(fax_dir)}) as rig:
        uuid = rig.emulator.place_call(Caller(CALLER, script=["4", "1", "1"]), HOTLINE_NUMBER)
        trace = rig.next_call()
        assert trace.uuid == uuid and trace.outcome == "self_served"
        sent = [
            e for e in rig.emulator.events if e.name == "CHANNEL_EXECUTE_COMPLETE" and e.get("Application") == "txfax"
        ]
        assert sent and sent[0].get("Application-Data") == str(fax_dir / "price_list.tiff")
        assert sent[0].variable("fax_success") == "1"


def test_post_call_survey_scores_are_stored_against_call_and_agent(tmp_path, db_url):
    with _rig(tmp_path, db_url, config={"calls": {"post_call_flow": "survey"}}) as rig:
        # the agent hangs up first (the caller never does), 1 s after answering: after the bridge, even loaded
        rig.emulator.phones["1001"] = Phone("1001", answer_delay=0.5, talk_seconds=100)
        rig.ready("1001")
        uuid = rig.emulator.place_call(Caller(CALLER, script=["2", "5", "4"]), HOTLINE_NUMBER)
        trace = rig.next_call()
        assert (trace.uuid, trace.outcome, trace.agent_id) == (uuid, "answered", "1001")
        with rig.engine.sessions() as s:
            scores = [(r.question, r.score, r.agent_id) for r in scores_for_call(s, uuid)]
        assert scores == [("agent_score", 5, "1001"), ("resolution_score", 4, "1001")]
        assert rig.engine.metrics.value("hotline_survey_scores_total", score="5") == 1


def test_reload_during_a_call_keeps_its_version_and_a_broken_flow_is_never_loaded(tmp_path, db_url, flows_dir):
    with _rig(tmp_path, db_url, flows_dir=flows_dir) as rig:
        rig.emulator.phones["1001"] = Phone("1001", answer_delay=0.5)
        rig.ready("1001")
        first = rig.emulator.place_call(Caller(CALLER, script=["2"], talk_seconds=5), HOTLINE_NUMBER)
        answered = ("CHANNEL_EXECUTE", first, "answer")  # hotline has the call (its flow version is fixed)
        rig.emulator.wait_for(lambda e: (e.name, e.uuid, e.get("Application")) == answered, timeout=5)

        main = flows_dir / "main.yaml"
        main.write_text(main.read_text().replace("queue: support", "queue: billing"))
        status, body = rig.api("POST", "/api/reload", rig.admin)
        assert status == 200 and "main" in body["flows"]

        assert rig.next_call().queue == "support"  # the call in progress kept the version it started with
        rig.api("POST", "/api/agents/1001/end_wrap_up", rig.agent_tokens["1001"])
        # nobody takes billing: the caller waits there until they hang up (not a patience of 0.3 s of real
        # time, which a loaded machine spent in the menu before the call reached the queue)
        second = rig.emulator.place_call(Caller(CALLER, script=["2"], patience_seconds=100_000), HOTLINE_NUMBER)
        calls = lambda: rig.engine.acd.acd.snapshot().calls  # noqa: E731
        wait_until(lambda: second in calls() and calls()[second].queue == "billing", what="the call in billing")
        rig.emulator.hangup(second)
        trace = rig.next_call()
        assert trace.uuid == second and trace.queue == "billing"  # new calls get the new version

        main.write_text(main.read_text().replace("goto: support", "goto: nowhere_at_all"))
        status, body = rig.api("POST", "/api/reload", rig.admin)
        assert status == 409 and "nowhere_at_all" in body["error"]
        assert rig.engine.flows["main"].source is not None  # still the previous, valid version


def test_agent_sends_the_caller_into_a_flow_and_gets_the_result_on_the_desktop(tmp_path, db_url):
    with _rig(tmp_path, db_url) as rig:
        rig.emulator.phones["1001"] = Phone("1001", answer_delay=0.5)
        rig.ready("1001")
        feed = rig.feed("1001")
        uuid = rig.emulator.place_call(Caller(CALLER, script=["2", "4", "5"]), HOTLINE_NUMBER)
        while not ((m := feed.get(timeout=5))["kind"] == "screen_pop" and m["data"]["phase"] == "answer"):
            pass
        me = rig.agent_tokens["1001"]
        status, _ = rig.api("POST", "/api/agents/1001/call/transfer", me, {"target": "flow:survey"})
        assert status == 200
        while (m := feed.get(timeout=5))["kind"] != "flow_result":
            pass
        assert m["data"]["call_id"] == uuid and m["data"]["flow"] == "survey"
        assert m["data"]["outcome"] == "self_served"
        assert rig.next_call().uuid == uuid
        with rig.engine.sessions() as s:
            scores = [(r.question, r.score, r.agent_id) for r in scores_for_call(s, uuid)]
        assert scores == [("agent_score", 4, "1001"), ("resolution_score", 5, "1001")]

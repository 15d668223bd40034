"""What a caller hears and can do while waiting: music on hold broken by position announcements
(spoken with the TTS provider) that offer keys to leave the queue for a callback or a message."""

from __future__ import annotations

import pytest

from engine.emulator import Caller, Phone
from tests.acd_rig import acd_rig, login, wait_until
from tests.hotline_rig import HOTLINE_NUMBER

pytestmark = [pytest.mark.integration, pytest.mark.db]

OPTIONS = {"sales": {"announce_seconds": 0.3, "exit_keys": {"1": "callback", "2": "voicemail"}}}


@pytest.mark.parametrize(
    ("key", "kind", "ended", "recorded"),
    [("1", "callback", ("transferred", "inbound"), False), ("2", "voicemail", ("voicemail", "callback"), True)],
)  # a callback keeps the caller's place (tests/test_integration_acd_callbacks.py); a message is a callback task
def test_announcement_gives_the_position_and_a_key_leaves_the_queue(
    tmp_path, db_url, key, kind, ended, recorded
) -> None:
    with acd_rig(tmp_path, db_url, {"1001": {"sales": 3}}, OPTIONS) as rig:
        spoken: list[str] = []
        render = rig.engine.tts.render
        rig.engine.tts.render = lambda text, *args: spoken.append(text) or render(text, *args)
        uuid = rig.emulator.place_call(Caller("13900000001", script=["1"]), HOTLINE_NUMBER)
        announcement = wait_until(
            lambda: next((t for t in spoken if "in the queue" in t), None), what="a position announcement"
        )
        assert announcement == (
            "You are number 1 in the queue. To be called back, press 1. To leave a message, press 2."
        )
        music = lambda: [  # noqa: E731
            e for e in rig.emulator.events
            if e.name == "CHANNEL_EXECUTE" and e.uuid == uuid and e.get("Application-Data") == "{timeout=20000}local_stream://moh"
        ]  # fmt: skip
        wait_until(lambda: len(music()) >= 2, what="the music back after the announcement")
        rig.emulator.send_dtmf(uuid, key)
        trace = rig.next_call()
        assert (trace.outcome, trace.kind, trace.queue) == (*ended, "sales")
        assert bool(trace.recording) is recorded
        metrics = rig.engine.metrics
        assert metrics.value("hotline_queue_exits_total", queue="sales", reason="caller", target=kind) == 1
        assert rig.engine.acd.acd.queue_status("sales", rig.engine.acd.clock()).stats.exited == 1


def test_keys_not_offered_are_ignored_and_the_call_is_answered(tmp_path, db_url) -> None:
    with acd_rig(tmp_path, db_url, {"1001": {"sales": 3}}, OPTIONS) as rig:
        rig.emulator.phones["1001"] = Phone("1001", answer_delay=1)
        uuid = rig.emulator.place_call(Caller("13900000001", script=["1"], talk_seconds=10), HOTLINE_NUMBER)
        wait_until(lambda: uuid in rig.engine.acd.acd.snapshot().calls, what="the call queued")
        rig.emulator.send_dtmf(uuid, "9")
        wait_until(lambda: any(e.name == "DTMF" and e.uuid == uuid for e in rig.emulator.events), what="the key")
        assert login(rig, "1001") == "reserved"
        trace = rig.next_call()
        assert trace.outcome == "answered" and trace.agent_id == "1001"

"""What the AMD audit sample relies on, checked on a real FreeSWITCH: ``uuid_record <uuid> start <file>
<limit>`` on a parked, answered leg closes the file by itself at the limit, firing RECORD_STOP with
``success-maxtime`` while the channel stays up (the emulator models the same; see docs/emulator.md)."""

from __future__ import annotations

import subprocess
import time
import wave
from pathlib import Path

import pytest
from gevent.queue import Queue

from tests.real_freeswitch import esl_connect

pytestmark = pytest.mark.realfs


def test_uuid_record_with_a_limit_stops_by_itself_while_the_leg_lives(
    freeswitch: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    esl = esl_connect()
    watcher = esl_connect(("RECORD_START", "RECORD_STOP", "CHANNEL_HANGUP_COMPLETE"))
    events: Queue = Queue()
    watcher.register_handle("*", events.put)
    path = tmp_path / "sample.wav"
    try:
        reply = esl.api("originate loopback/9999/default &park()")  # the far end answers and plays a tone
        assert reply.startswith("+OK"), reply
        leg = reply.split()[1]
        limit = 2
        assert esl.api(f"uuid_record {leg} start {path} {limit}").startswith("+OK")
        seen: list[str] = []
        stamps: dict[str, int] = {}
        deadline = time.monotonic() + 15
        while "RECORD_STOP" not in seen:
            event = events.get(timeout=max(0.0, deadline - time.monotonic())).headers
            if event.get("Unique-ID") != leg:
                continue
            seen.append(event.get("Event-Name", ""))
            stamps[seen[-1]] = int(event.get("Event-Date-Timestamp", "0"))
            if event.get("Event-Name") == "RECORD_STOP":
                assert event.get("Record-File-Path") == str(path)
                assert event.get("Record-Completion-Cause") == "success-maxtime"
        assert seen == ["RECORD_START", "RECORD_STOP"]  # no hangup: the limit closed it
        # FreeSWITCH's own timestamps, not this (possibly loaded) machine's: it stopped after the start,
        # and no later than the limit (plus a second: it compares whole epoch seconds)
        assert stamps["RECORD_START"] < stamps["RECORD_STOP"] <= stamps["RECORD_START"] + (limit + 1) * 1_000_000
        assert esl.api(f"uuid_exists {leg}").strip() == "true"
        with wave.open(str(path)) as audio:  # audio, and never more than the limit asked for (one 20 ms frame)
            assert 0 < audio.getnframes() <= (limit + 0.02) * audio.getframerate()
    finally:
        esl.api("hupall NORMAL_CLEARING")
        watcher.close()
        esl.close()

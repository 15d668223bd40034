"""Retention through the engine: a call recorded by its queue's policy, then the engine's retention run a
month later deletes the file while a live call's recording stays; the API answers 410 with the date, the
metrics count the file and its bytes."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from engine.emulator import Caller, Phone
from tests.acd_rig import acd_rig, login, talking, wait_until
from tests.hotline_rig import HOTLINE_NUMBER

pytestmark = [pytest.mark.integration, pytest.mark.db]


def _audio(rig, call: str, recording_id: int) -> tuple[int, bytes | dict]:
    """GET a recording's audio: (200, the WAV) or (status, the JSON error)."""
    url = f"http://127.0.0.1:{rig.http_port}/api/calls/{call}/recordings/{recording_id}/audio"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {rig.admin}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_engine_purges_an_ended_calls_recording_and_keeps_a_live_one(tmp_path, db_url) -> None:
    agents = {"1001": {"sales": 5}, "1002": {"sales": 5}}
    config = {"retention": {"call_recordings_days": 30}}
    with acd_rig(tmp_path, db_url, agents, {"sales": {"record_percent": 100}}, config) as rig:
        for agent in agents:
            rig.emulator.phones[agent] = Phone(agent, answer_delay=1)
            login(rig, agent)
        ended = rig.emulator.place_call(Caller("13900000001", script=["1"], talk_seconds=20), HOTLINE_NUMBER)
        assert rig.next_call().outcome == "answered"
        [row] = wait_until(lambda: rig.api("GET", f"/api/calls/{ended}/recordings", rig.admin)[1], what="the row")
        wait_until(lambda: rig.engine.config.data_dir.joinpath(row["path"]).exists(), what="the file, closed")
        status, audio = _audio(rig, ended, row["id"])
        assert status == 200 and audio[:4] == b"RIFF"

        live = rig.emulator.place_call(Caller("13900000002", script=["1"], talk_seconds=600), HOTLINE_NUMBER)
        wait_until(lambda: any(talking(rig, a) for a in agents), what="the second call bridged")
        # the policy's recording starts in a greenlet of its own after the bridge: wait for its row
        [live_row] = wait_until(lambda: rig.api("GET", f"/api/calls/{live}/recordings", rig.admin)[1], what="row")

        size = rig.engine.config.data_dir.joinpath(row["path"]).stat().st_size
        later = datetime.now(UTC) + timedelta(days=400)  # both are past the period; one call still runs
        report = rig.engine.retention.run(later)
        assert report.kinds["call_recording"].files == 1
        assert report.kinds["call_recording"].bytes == size  # the file's size, measured before the run
        assert not rig.engine.config.data_dir.joinpath(row["path"]).exists()

        [row] = rig.api("GET", f"/api/calls/{ended}/recordings", rig.admin)[1]
        assert row["purged_at"] == later.isoformat()
        status, body = _audio(rig, ended, row["id"])
        assert status == 410 and f"deleted by the retention policy on {later:%Y-%m-%d}" in body["error"]
        assert rig.api("GET", f"/api/calls/{live}/recordings", rig.admin)[1][0]["purged_at"] is None
        assert _audio(rig, ended, live_row["id"])[0] == 404  # not a recording of that call

        metrics = rig.engine.metrics
        assert metrics.value("hotline_retention_files_deleted_total", kind="call_recording") == 1
        assert metrics.value("hotline_retention_bytes_deleted_total", kind="call_recording") == size
        assert metrics.value("hotline_retention_last_run_timestamp_seconds") == later.timestamp()
        rig.emulator.hangup(live)
        rig.next_call()

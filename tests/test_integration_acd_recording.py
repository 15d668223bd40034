"""Recording on the emulator: a queue's policy records answered calls, an agent records on demand;
files are named <data_dir>/recordings/YYYY/MM/DD/<call uuid>.wav and found by call id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.emulator import Caller, Phone
from tests.acd_rig import acd_rig, login, talking, wait_until
from tests.hotline_rig import HOTLINE_NUMBER

pytestmark = [pytest.mark.integration, pytest.mark.db]


def expected_paths(rig, uuid: str, since: datetime) -> set[str]:
    """The recording's path for each UTC day from ``since`` (taken before the call) to now: a call
    recorded across midnight may be named by either day."""
    days = {since.date(), datetime.now(UTC).date()}
    return {str(rig.engine.config.data_dir / "recordings" / f"{day:%Y/%m/%d}" / f"{uuid}.wav") for day in days}


def recordings(rig, uuid: str) -> list[dict]:
    """The call's recording rows, once the policy's recording (started by a greenlet of its own after
    the bridge) has been stored."""
    return wait_until(lambda: rig.api("GET", f"/api/calls/{uuid}/recordings", rig.admin)[1], what="a recording row")


def test_queue_policy_records_every_answered_call(tmp_path, db_url) -> None:
    with acd_rig(tmp_path, db_url, {"1001": {"sales": 5}}, {"sales": {"record_percent": 100}}) as rig:
        rig.emulator.phones["1001"] = Phone("1001", answer_delay=1)
        login(rig, "1001")
        since = datetime.now(UTC)
        uuid = rig.emulator.place_call(Caller("13900000001", script=["1"], talk_seconds=20), HOTLINE_NUMBER)
        assert rig.next_call().outcome == "answered"
        [row] = recordings(rig, uuid)
        assert (row["reason"], row["agent"], row["queue"]) == ("policy", "1001", "sales")
        assert row["path"] in expected_paths(rig, uuid, since)
        wait_until(lambda: Path(row["path"]).exists(), what="the file, closed at hangup")
        assert rig.api("GET", f"/api/calls/{uuid}/recordings", rig.agent_tokens["1001"])[0] == 403


def test_agent_records_on_demand_when_the_policy_does_not(tmp_path, db_url) -> None:
    with acd_rig(tmp_path, db_url, {"1001": {"sales": 5}}, {}) as rig:
        rig.emulator.phones["1001"] = Phone("1001", answer_delay=1)
        login(rig, "1001")
        since = datetime.now(UTC)
        uuid = rig.emulator.place_call(Caller("13900000001", script=["1"]), HOTLINE_NUMBER)
        wait_until(lambda: talking(rig, "1001"), what="1001 talking")
        status, body = rig.api("POST", "/api/agents/1001/call/record", rig.agent_tokens["1001"])
        assert status == 200 and body["path"] in expected_paths(rig, uuid, since)
        rig.emulator.hangup(uuid)
        rig.next_call()
        wait_until(lambda: Path(body["path"]).exists(), what="the file, closed at hangup")
        # the whole call has ended, so the policy's decision (in its own greenlet at the bridge) was made:
        # the agent's recording is the only one
        rows = rig.api("GET", f"/api/calls/{uuid}/recordings", rig.admin)[1]
        assert [(r["reason"], r["agent"]) for r in rows] == [("agent:1001", "1001")]
        log = rig.api("GET", "/api/call-control-log?agent=1001", rig.admin)[1]
        assert [(r["action"], r["result"]) for r in log] == [("record", "ok")]


def test_a_rule_records_that_agents_calls_during_its_window_only(tmp_path, db_url) -> None:
    agents = {"1001": {"sales": 5}, "1002": {"sales": 5}}
    with acd_rig(tmp_path, db_url, agents, {}) as rig:
        now = datetime.now(UTC)
        body = {
            "agent": "1001",
            "from": (now - timedelta(hours=1)).isoformat(),
            "until": (now + timedelta(hours=1)).isoformat(),
            "note": "QA",
        }
        status, rule = rig.api("POST", "/api/recording-rules", rig.admin, body)
        assert status == 200 and rule["agent"] == "1001" and rule["by"] == "admin"
        past = {**body, "agent": "1002", "until": (now - timedelta(minutes=1)).isoformat()}
        assert rig.api("POST", "/api/recording-rules", rig.admin, past)[0] == 200
        assert rig.api("POST", "/api/recording-rules", rig.agent_tokens["1001"], body)[0] == 403
        status, error = rig.api("POST", "/api/recording-rules", rig.admin, {**body, "until": body["from"]})
        assert status == 400 and error["field"] == "recording_rule.ends_at", error  # bad input, not a conflict
        assert rig.api("POST", "/api/recording-rules", rig.admin, {**body, "agent": "9999"})[0] == 404

        for agent in ("1001", "1002"):
            rig.emulator.phones[agent] = Phone(agent, answer_delay=1)
            login(rig, agent)
        first = rig.emulator.place_call(Caller("13900000001", script=["1"], talk_seconds=20), HOTLINE_NUMBER)
        second = rig.emulator.place_call(Caller("13900000002", script=["1"], talk_seconds=20), HOTLINE_NUMBER)
        traces = {t.uuid: t for t in (rig.next_call(), rig.next_call())}
        for uuid in (first, second):
            if traces[uuid].agent_id == "1001":
                rows = recordings(rig, uuid)
                assert [(r["reason"], r["agent"]) for r in rows] == [(f"rule {rule['id']}", "1001")]
            else:  # 1002's rule has ended; the queue samples nothing (the call has ended: it was decided)
                assert rig.api("GET", f"/api/calls/{uuid}/recordings", rig.admin)[1] == []
        assert [r["agent"] for r in rig.api("GET", "/api/recording-rules", rig.admin)[1]] == ["1001", "1002"]
        assert rig.api("DELETE", f"/api/recording-rules/{rule['id']}", rig.admin)[0] == 200
        assert [r["agent"] for r in rig.api("GET", "/api/recording-rules", rig.admin)[1]] == ["1002"]

"""The API backend (engine/runtime/backend.py) of a running engine: on a scripted FreeSWITCH for what
FreeSWITCH is told and the rows stored, and on the emulator over HTTP for the views of a live call."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event

from engine.emulator import Caller, Phone
from engine.runtime.hotline import Hotline
from engine.store import agent_states, recordings
from engine.store.errors import InvalidInput
from engine.transport import CommandFailed
from tests.acd_rig import acd_rig, login, talking, wait_until
from tests.hotline_rig import HOTLINE_NUMBER
from tests.switch_engine import engines
from tests.switch_peer import CALL, Switch

pytestmark = pytest.mark.db


@pytest.fixture
def start(tmp_path: Path, db_url: str) -> Iterator[Callable[..., tuple[Hotline, Switch]]]:
    yield from engines(tmp_path, db_url)


def states(engine: Hotline, agent_id: str) -> list[tuple[str, str | None]]:
    with engine.sessions() as s:
        return [(row.state, row.reason) for row in agent_states.list_agent_states(s, agent_id)]


def test_agent_actions_move_the_acd_and_are_stored_and_bad_ones_are_refused_before_the_acd_acts(start) -> None:
    engine, _switch = start()
    assert engine.backend.agent_action("1001", "login", None) == {"agent": "1001", "state": "ready"}
    assert engine.backend.agent_action("1001", "break", "lunch") == {"agent": "1001", "state": "break"}
    assert engine.backend.agent_action("1001", "ready", None) == {"agent": "1001", "state": "ready"}
    with pytest.raises(InvalidInput, match="reason"):
        engine.backend.agent_action("1001", "break", "lunch\x1b[2J")
    with pytest.raises(InvalidInput, match="reason"):
        engine.backend.agent_action("1001", "break", "x" * 65)
    with pytest.raises(ValueError, match="not allowed in state 'ready'"):
        engine.backend.agent_action("1001", "end_wrap_up", None)
    with pytest.raises(KeyError, match="agent 9999"):
        engine.backend.agent_action("9999", "login", None)
    assert engine.backend.agents_view()[0]["state"] == "ready"
    assert 0 <= engine.backend.agents_view()[0]["seconds_in_state"] < 60  # since the last change, moments ago
    wait_until(lambda: len(states(engine, "1001")) == 3, what="agent states stored")
    assert states(engine, "1001") == [("ready", None), ("break", "lunch"), ("ready", None)]


def test_a_recording_is_started_on_freeswitch_then_stored(start, tmp_path: Path) -> None:
    engine, switch = start()
    path = engine.backend.start_recording(CALL, "supervisor", "1001", "sales")
    day = datetime.now(UTC)
    assert path == str(tmp_path / "var" / "recordings" / f"{day:%Y/%m/%d}" / f"{CALL}.wav")
    assert [c for c in switch.commands if c.startswith("api uuid_record")] == [f"api uuid_record {CALL} start {path}"]
    [row] = engine.backend.call_recordings(CALL)
    assert (row["path"], row["reason"], row["agent"], row["queue"]) == (path, "supervisor", "1001", "sales")


def test_a_recording_freeswitch_refuses_is_not_stored(start) -> None:
    engine, _switch = start(lambda line: "-ERR Cannot locate session!\n" if "uuid_record" in line else None)
    with pytest.raises(CommandFailed, match="Cannot locate session"):
        engine.backend.start_recording(CALL, "supervisor", "1001", "sales")
    assert engine.backend.call_recordings(CALL) == []
    with engine.sessions() as s:
        assert recordings.recordings_for_call(s, CALL) == []


def test_recording_rules_name_the_bad_field_and_the_unknown_agent(start) -> None:
    engine, _switch = start()
    with pytest.raises(ValueError, match=r"recording_rule\.from: 'tomorrow' is not an ISO 8601 time"):
        engine.backend.add_recording_rule("admin", "1001", "tomorrow", "2026-12-01T10:00", "")
    with pytest.raises(ValueError, match=r"recording_rule\.until: None is not an ISO 8601 time"):
        engine.backend.add_recording_rule("admin", "1001", "2026-12-01T09:00", None, "")  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="agent 9999"):
        engine.backend.add_recording_rule("admin", "9999", "2026-12-01T09:00", "2026-12-01T10:00", "")
    assert engine.backend.recording_rules() == []
    rule = engine.backend.add_recording_rule("admin", "1001", "2026-12-01T09:00", "2026-12-01T10:00", "coaching")
    assert (rule["agent"], rule["by"], rule["note"]) == ("1001", "admin", "coaching")
    local = datetime.fromisoformat("2026-12-01T09:00:00+08:00")  # no offset given: calls.timezone's time
    assert datetime.fromisoformat(rule["from"]) == local
    assert engine.backend.remove_recording_rule(rule["id"]) == {"removed": rule["id"]}
    assert engine.backend.recording_rules("1001") == []


def test_the_recording_rules_a_bridge_applies_are_read_once_and_again_after_a_change(start) -> None:
    engine, _switch = start()
    reads: list[str] = []
    event.listen(engine.sessions.kw["bind"], "before_cursor_execute", lambda *a: reads.append(a[2]))
    now = datetime.now(UTC)
    assert engine.backend._current_rules(now) == []
    rule = engine.backend.add_recording_rule(
        "admin", "1001", (now - timedelta(hours=1)).isoformat(), (now + timedelta(hours=1)).isoformat(), ""
    )
    for _ in range(3):
        assert [r.id for r in engine.backend._current_rules(now)] == [rule["id"]]  # the added rule, at once
    assert engine.backend._current_rules(now + timedelta(hours=2)) == []  # ended: not applied, no read either
    engine.backend.remove_recording_rule(rule["id"])
    assert engine.backend._current_rules(now) == []
    rule_reads = [r for r in reads if r.lstrip().upper().startswith("SELECT") and "recording_rules.ends_at >" in r]
    assert len(rule_reads) == 3  # first bridge, after the add, after the remove


def test_the_views_of_a_live_call_come_from_the_acd(tmp_path, db_url) -> None:
    """GET /api/agents and /api/queues while a caller talks to 1001: the caller, queue and talking count are
    the ACD's, the agent leg FreeSWITCH bridged is the one the ACD holds."""
    with acd_rig(tmp_path, db_url, {"1001": {"sales": 5}, "1002": {"backup": 5}}, {}) as rig:
        rig.emulator.phones["1001"] = Phone("1001", answer_delay=1)
        login(rig, "1001")
        uuid = rig.emulator.place_call(Caller("13900000007", script=["1"]), HOTLINE_NUMBER)
        wait_until(lambda: talking(rig, "1001"), what="1001 talking")
        status, agents = rig.api("GET", "/api/agents", rig.admin)
        assert status == 200
        [on_call] = [a for a in agents if a["id"] == "1001"]
        assert (on_call["state"], on_call["call"], on_call["caller"], on_call["queue"], on_call["on_hold"]) == (
            "on_call", uuid, "13900000007", "sales", False,
        )  # fmt: skip
        [idle] = [a for a in agents if a["id"] == "1002"]
        assert (idle["call"], idle["caller"], idle["queue"]) == (None, None, None)
        status, queues = rig.api("GET", "/api/queues", rig.admin)
        assert {q["queue"]: (q["waiting"], q["talking"]) for q in queues} == {"sales": (0, 1), "backup": (0, 0)}
        leg = rig.engine.acd.acd.agent_leg(uuid)
        bridged_to = rig.emulator.channels[uuid].bridged_to
        assert leg is not None and bridged_to is not None and bridged_to.uuid == leg
        rig.emulator.hangup(uuid)
        rig.next_call()
        status, agents = rig.api("GET", "/api/agents", rig.admin)
        assert [(a["call"], a["caller"]) for a in agents if a["id"] == "1001"] == [(None, None)]

"""engine/api/acd.py alone over HTTP: call control, supervision, call records, recordings and recording
rules, over a scripted backend that records what it is asked and raises what the runtime raises
(KeyError for an unknown agent or call, ValueError for "not now", UnsafeValue for a refused dial string,
the store's NotFound and Gone for a recording)."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import pytest

from engine.api import acd
from engine.esl.codec import UnsafeValue
from engine.store.errors import Gone, NotFound
from tests.api_client import ADMIN, AGENT_1001, AGENT_1002, SUPERVISOR, TOKENS, serve

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt "


class ScriptedEngine:
    """Both backends: ``act``'s answer or error is set per test in ``next_error``."""

    def __init__(self, recordings: Path) -> None:
        self.asked: list[tuple[Any, ...]] = []
        self.next_error: Exception | None = None
        self.files = recordings

    def _answer(self, *asked: Any) -> None:
        self.asked.append(asked)
        if self.next_error is not None:
            raise self.next_error

    # CallControlBackend
    def act(self, actor: str, agent_id: str, action: str, **args: Any) -> dict[str, Any]:
        self._answer("act", actor, agent_id, action, args)
        return {"agent": agent_id, "action": action, "call": "call-1"}

    def log(self, agent_id: str | None, limit: int) -> list[dict[str, Any]]:
        self._answer("log", agent_id, limit)
        return [{"actor": "supervisor", "action": "listen", "result": "ok"}]

    # AcdBackend
    def call_record(self, call_id: str) -> dict[str, Any]:
        self._answer("call_record", call_id)
        return {"uuid": call_id, "segments": [{"agent": "1001"}]}

    def call_recordings(self, call_id: str) -> list[dict[str, Any]]:
        self._answer("call_recordings", call_id)
        return [{"id": 3, "call": call_id}]

    def recording_file(self, call_id: str, recording_id: int) -> str:
        self._answer("recording_file", call_id, recording_id)
        return str(self.files / f"{call_id}-{recording_id}.wav")

    def add_recording_rule(self, actor: str, agent_id: str, starts: str, ends: str, note: str) -> dict[str, Any]:
        self._answer("add_rule", actor, agent_id, starts, ends, note)
        return {"id": 5, "agent": agent_id}

    def recording_rules(self, agent_id: str | None = None) -> list[dict[str, Any]]:
        self._answer("rules", agent_id)
        return []

    def remove_recording_rule(self, rule_id: int) -> dict[str, Any]:
        self._answer("remove_rule", rule_id)
        return {"removed": rule_id}


@pytest.fixture
def api(tmp_path: Path):
    engine = ScriptedEngine(tmp_path)
    with serve([partial(acd.register, backend=engine, calls=engine)], TOKENS) as api:
        api.engine = engine  # type: ignore[attr-defined]
        yield api


# ---- an agent's own call ---------------------------------------------------------------------------


def test_an_agent_controls_their_own_call_and_the_actor_is_audited_as_them(api) -> None:
    answer = api.call("POST", "/api/agents/1001/call/hold", AGENT_1001)
    assert (answer.status, answer.body["action"]) == (200, "hold")
    api.call("POST", "/api/agents/1001/call/transfer", AGENT_1001, {"target": "queue:billing"})
    api.call("POST", "/api/agents/1001/call/hangup", SUPERVISOR)
    assert api.engine.asked == [
        ("act", "agent:1001", "1001", "hold", {"target": None}),
        ("act", "agent:1001", "1001", "transfer", {"target": "queue:billing"}),
        ("act", "supervisor", "1001", "hangup", {"target": None}),
    ]


def test_an_agent_cannot_control_another_agents_call(api) -> None:
    for action in ("hold", "hangup", "transfer", "dial"):
        answer = api.call("POST", f"/api/agents/1001/call/{action}", AGENT_1002, {})
        assert answer.status == 403 and "'agent'" in answer.body["error"]
    assert api.call("POST", "/api/agents/1001/call/hold", "stolen").status == 401
    assert api.engine.asked == []


def test_a_manual_dial_passes_the_number_and_only_staff_may_override_the_dnc_list(api) -> None:
    assert api.call("POST", "/api/agents/1001/call/dial", AGENT_1001, {"number": "+442079460018"}).status == 200
    override = {"number": "02079460018", "override_dnc": True}
    refused = api.call("POST", "/api/agents/1001/call/dial", AGENT_1001, override)
    assert refused.status == 403 and "override_dnc" in refused.body["error"]
    assert api.call("POST", "/api/agents/1001/call/dial", ADMIN, {"number": "*98#", "override_dnc": True}).status == 200
    assert api.engine.asked == [
        ("act", "agent:1001", "1001", "dial", {"number": "+442079460018", "override_dnc": False}),
        ("act", "admin", "1001", "dial", {"number": "*98#", "override_dnc": True}),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"number": "0207 946 0018"}, "body.number"),
        ({"number": "1"}, "body.number"),
        ({"number": "123\n\napi hupall"}, "body.number"),
        ({"number": 2079460018}, "body.number"),
        ({"number": "+442079460018", "override_dnc": "yes"}, "body.override_dnc"),
        ({"number": "+442079460018", "caller_id": "x"}, "body.caller_id"),
        ({}, "body.number"),
    ],
)
def test_a_number_that_is_not_diallable_is_400_naming_the_field_and_nothing_is_dialled(api, body, field) -> None:
    answer = api.call("POST", "/api/agents/1001/call/dial", AGENT_1001, body)
    assert answer.error == (400, field), answer.body
    assert field.removeprefix("body.") in answer.body["error"]
    assert api.engine.asked == []


def test_a_target_with_a_line_break_never_reaches_call_control(api) -> None:
    answer = api.call("POST", "/api/agents/1001/call/consult", AGENT_1001, {"target": "agent:1002\napi hupall"})
    assert answer.error == (400, "body.target")
    too_long = api.call("POST", "/api/agents/1001/call/transfer", AGENT_1001, {"target": "number:" + "1" * 255})
    assert too_long.error == (400, "body.target")
    assert api.engine.asked == []


@pytest.mark.parametrize(
    ("error", "status", "message"),
    [
        (KeyError("agent 1001"), 404, "not found: agent 1001"),
        (ValueError("agent 1001 is not on a call"), 409, "agent 1001 is not on a call"),
        (ValueError("-ERR No such channel!"), 409, "-ERR No such channel!"),  # FreeSWITCH refused the command
        (ValueError("uuid_hold: no reply within 5.0 s"), 409, "uuid_hold: no reply within 5.0 s"),  # timed out
        (UnsafeValue("transfer target: contains a space: 'number:1 2'"), 400, "transfer target: contains a space"),
    ],
)
def test_call_control_refusals_answer_their_status_with_the_reason(api, error, status, message) -> None:
    api.engine.next_error = error
    answer = api.call("POST", "/api/agents/1001/call/transfer", AGENT_1001, {"target": "number:1 2"})
    assert answer.status == status and answer.body["error"].startswith(message), answer.body


def test_an_unknown_action_is_404_and_a_get_is_405(api) -> None:
    assert api.call("POST", "/api/agents/1001/call/explode", ADMIN).status == 404
    assert api.call("GET", "/api/agents/1001/call/hold", ADMIN).status == 405
    assert api.engine.asked == []


# ---- supervisors ----------------------------------------------------------------------------------


def test_a_supervisor_listens_from_their_phone_and_forces_a_break_with_a_reason(api) -> None:
    assert api.call("POST", "/api/supervise/1001/listen", SUPERVISOR, {"contact": "user/1009"}).status == 200
    assert api.call("POST", "/api/supervise/1001/force_break", ADMIN, {"reason": "coaching"}).status == 200
    assert api.engine.asked == [
        ("act", "supervisor", "1001", "listen", {"contact": "user/1009", "reason": None}),
        ("act", "admin", "1001", "force_break", {"contact": None, "reason": "coaching"}),
    ]


def test_agents_cannot_supervise_not_even_themselves(api) -> None:
    for action in ("listen", "whisper", "barge", "force_break", "force_logout"):
        assert api.call("POST", f"/api/supervise/1001/{action}", AGENT_1001, {}).status == 403
    assert api.engine.asked == []


def test_a_break_reason_longer_than_the_state_log_holds_is_400(api) -> None:
    answer = api.call("POST", "/api/supervise/1001/force_break", ADMIN, {"reason": "r" * 65})
    assert answer.error == (400, "body.reason")
    assert api.call("POST", "/api/supervise/1001/listen", ADMIN, {"contact": ["user/1009"]}).error == (
        400,
        "body.contact",
    )
    assert api.engine.asked == []


def test_the_call_control_log_takes_an_agent_and_a_bounded_limit(api) -> None:
    assert api.call("GET", "/api/call-control-log?agent=1001&limit=20", SUPERVISOR).status == 200
    assert api.call("GET", "/api/call-control-log?limit=501", ADMIN).error == (400, "query.limit")
    assert api.call("GET", "/api/call-control-log?limit=0", ADMIN).error == (400, "query.limit")
    assert api.call("GET", "/api/call-control-log", AGENT_1001).status == 403
    assert api.engine.asked == [("log", "1001", 20)]


# ---- finished calls and recordings --------------------------------------------------------------


def test_staff_read_a_call_record_and_its_recordings_and_agents_do_not(api) -> None:
    record = api.call("GET", "/api/calls/call-9", SUPERVISOR)
    assert (record.status, record.body["segments"]) == (200, [{"agent": "1001"}])
    assert api.call("GET", "/api/calls/call-9/recordings", ADMIN).body == [{"id": 3, "call": "call-9"}]
    for path in ("/api/calls/call-9", "/api/calls/call-9/recordings", "/api/calls/call-9/recordings/3/audio"):
        assert api.call("GET", path, AGENT_1001).status == 403
    assert api.engine.asked == [("call_record", "call-9"), ("call_recordings", "call-9")]


def test_an_unknown_call_is_404(api) -> None:
    api.engine.next_error = KeyError("call nope")
    answer = api.call("GET", "/api/calls/nope", ADMIN)
    assert (answer.status, answer.body["error"]) == (404, "not found: call nope")


def test_a_recordings_audio_is_served_as_wav(api) -> None:
    (api.engine.files / "call-9-3.wav").write_bytes(WAV)
    answer = api.call("GET", "/api/calls/call-9/recordings/3/audio", SUPERVISOR)
    assert (answer.status, answer.headers["content-type"], answer.body) == (200, "audio/wav", WAV)
    assert answer.headers["content-length"] == str(len(WAV))
    assert api.engine.asked == [("recording_file", "call-9", 3)]


def test_a_recording_not_on_disk_is_404_unknown_is_404_and_deleted_by_retention_is_410(api) -> None:
    missing = api.call("GET", "/api/calls/call-9/recordings/3/audio", ADMIN)
    assert missing.status == 404 and "recording 3: no file" in missing.body["error"]
    api.engine.next_error = NotFound("recording", 4)
    assert api.call("GET", "/api/calls/call-9/recordings/4/audio", ADMIN).status == 404
    api.engine.next_error = Gone("recording", 5, "deleted by the retention policy on 2100-01-01")
    gone = api.call("GET", "/api/calls/call-9/recordings/5/audio", ADMIN)
    assert gone.status == 410 and "2100-01-01" in gone.body["error"]
    assert api.call("GET", f"/api/calls/call-9/recordings/{2**31}/audio", ADMIN).error == (400, "path.recording_id")


# ---- recording rules ----------------------------------------------------------------------------


def test_staff_add_list_and_remove_recording_rules(api) -> None:
    rule = {"agent": "1001", "from": "2026-11-23T09:00", "until": "2026-11-23T17:00+08:00", "note": "QA"}
    assert api.call("POST", "/api/recording-rules", SUPERVISOR, rule).body == {"id": 5, "agent": "1001"}
    assert api.call("POST", "/api/recording-rules", ADMIN, {**rule, "note": ""}).status == 200
    assert api.call("GET", "/api/recording-rules?agent=1001", ADMIN).status == 200
    assert api.call("DELETE", "/api/recording-rules/5", ADMIN).body == {"removed": 5}
    assert api.engine.asked == [
        ("add_rule", "supervisor", "1001", "2026-11-23T09:00", "2026-11-23T17:00+08:00", "QA"),
        ("add_rule", "admin", "1001", "2026-11-23T09:00", "2026-11-23T17:00+08:00", ""),
        ("rules", "1001"),
        ("remove_rule", 5),
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"from": "monday"}, "body.from"),
        ({"until": "2026-13-01T00:00"}, "body.until"),
        ({"until": None}, "body.until"),
        ({"agent": ""}, "body.agent"),
        ({"agent": "1" * 33}, "body.agent"),
        ({"note": "n" * 256}, "body.note"),
        ({"starts": "2026-11-23T09:00"}, "body.starts"),
    ],
)
def test_a_bad_rule_is_400_naming_the_field_and_nothing_is_stored(api, change, field) -> None:
    rule = {"agent": "1001", "from": "2026-11-23T09:00", "until": "2026-11-23T17:00", **change}
    answer = api.call("POST", "/api/recording-rules", ADMIN, rule)
    assert answer.error == (400, field), answer.body
    assert api.engine.asked == []


def test_a_rule_for_an_unknown_agent_is_404_and_agents_may_not_set_rules(api) -> None:
    rule = {"agent": "9999", "from": "2026-11-23T09:00", "until": "2026-11-23T17:00"}
    assert api.call("POST", "/api/recording-rules", AGENT_1001, {**rule, "agent": "1001"}).status == 403
    assert api.call("DELETE", "/api/recording-rules/5", AGENT_1001).status == 403
    api.engine.next_error = KeyError("agent 9999")
    assert api.call("POST", "/api/recording-rules", ADMIN, rule).body["error"] == "not found: agent 9999"
    api.engine.next_error = KeyError("recording rule 77")
    assert api.call("DELETE", "/api/recording-rules/77", ADMIN).status == 404

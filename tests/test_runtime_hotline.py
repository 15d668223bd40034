"""The engine (Hotline) against a scripted FreeSWITCH: its control and dialler connections go to a
:class:`~tests.switch_peer.Switch`, calls arrive on its real outbound-socket port from the switch's
:class:`~tests.switch_peer.Call`, and the database is the test's own (SQLite, or PostgreSQL in CI).

The tests assert what FreeSWITCH is told, what the API backend answers (and refuses, with which
error), and the rows stored."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from engine.config import ConfigError, load_config
from engine.ivr.errors import FlowValidationError
from engine.runtime.hotline import Hotline
from engine.store import agent_states, agents, queues, recordings, skills
from engine.store.db import make_engine, session_factory
from engine.store.errors import InvalidInput
from engine.store.migrate import upgrade
from engine.transport import CommandFailed
from tests.switch_peer import CALL, Reply, Switch, wait_until

pytestmark = pytest.mark.db

FLOW = """\
flow: main
nodes:
  hello:
    say: "Welcome to the help line."
  bye:
    hangup: NORMAL_CLEARING
    outcome: self_served
"""


class FakeTts:
    def render(self, text: str, language: str, voice: str | None = None) -> str:
        return f"/tts/{text}.wav"


def seed(db_url: str, seeder: Callable[[Session], Any]) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    with session_factory(engine).begin() as s:
        seeder(s)
    engine.dispose()


@pytest.fixture
def start(tmp_path: Path, db_url: str) -> Iterator[Callable[..., tuple[Hotline, Switch]]]:
    running: list[tuple[Hotline, Switch]] = []

    def _start(answer: Callable[[str], Reply | None] | None = None) -> tuple[Hotline, Switch]:
        def seeder(s: Session) -> None:
            skills.create_skill(s, "sales")
            queues.create_queue(s, "sales", required_skills={"sales": 1}, wrap_up_seconds=0)
            agents.create_agent(s, "1001", name="Grace", contact="user/1001", skills={"sales": 7})

        seed(db_url, seeder)
        flows = tmp_path / "flows"
        flows.mkdir()
        (flows / "main.yaml").write_text(FLOW)
        switch = Switch()
        if answer:
            switch.on("", answer)
        path = tmp_path / "hotline.yaml"
        path.write_text(
            f"data_dir: {tmp_path / 'var'}\nflows_dir: {flows}\ndatabase_url: '{db_url}'\n"
            f"http: {{port: 0}}\nsocket: {{port: 0}}\n"
            f"freeswitch: {{port: {switch.port}, password: pw, command_timeout: 2}}\n"
        )
        engine = Hotline(load_config(path))
        engine.tts = FakeTts()  # type: ignore[assignment]
        engine.start(wait_for_freeswitch=5)
        running.append((engine, switch))
        return engine, switch

    yield _start
    for engine, switch in running:
        engine.stop()
        switch.close()


def states(engine: Hotline, agent_id: str) -> list[tuple[str, str | None]]:
    with engine.sessions() as s:
        return [(row.state, row.reason) for row in agent_states.list_agent_states(s, agent_id)]


def test_start_up_subscribes_the_control_connection_and_loads_queues_and_agents_from_the_database(start) -> None:
    engine, switch = start()
    assert "event plain BACKGROUND_JOB CHANNEL_HOLD CHANNEL_UNHOLD" in switch.subscriptions
    assert engine.backend.agents_view() == [{
        "id": "1001", "state": "logged_out", "reason": "", "skills": {"sales": 7}, "calls": 0,
        "seconds_in_state": None, "call": None, "caller": None, "queue": None, "on_hold": False, "consult": None,
    }]  # fmt: skip
    [sales] = engine.backend.queues_view()
    assert (sales["queue"], sales["waiting"], sales["talking"]) == ("sales", 0, 0)


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
    assert switch.commands[-1] == f"api uuid_record {CALL} start {path}"
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


def test_a_call_on_the_outbound_socket_runs_its_flow_and_leaves_one_cdr(start) -> None:
    engine, fs = start()
    with pytest.raises(KeyError, match=CALL):
        engine.backend.call_record(CALL)
    switch = fs.dial(engine.outbound._server.server_port)
    try:
        switch.wait_told("hangup NORMAL_CLEARING")
        assert switch.log == [
            "execute answer",
            "execute playback /tts/Welcome to the help line..wav",
            "hangup NORMAL_CLEARING",
        ]
        record = wait_until(lambda: _record(engine), what="the CDR")
    finally:
        switch.close()
    assert isinstance(record, dict)
    assert (record["uuid"], record["caller"], record["destination"]) == (CALL, "13800138000", "4000")
    assert (record["flow"], record["outcome"], record["hangup_cause"]) == ("main", "self_served", "NORMAL_CLEARING")
    assert record["segments"] == []
    assert engine.metrics.value("hotline_calls_total", outcome="self_served") == 1


def _record(engine: Hotline) -> dict[str, Any] | None:
    try:
        return engine.backend.call_record(CALL)
    except KeyError:
        return None


def test_a_reload_with_a_broken_flow_keeps_the_flows_running(start, tmp_path: Path) -> None:
    engine, _switch = start()
    before = engine.flows
    (tmp_path / "flows" / "broken.yaml").write_text("flow: broken\nnodes:\n  a:\n    goto: nowhere\n")
    with pytest.raises(FlowValidationError, match=r"broken\.yaml:4"):
        engine.reload()
    assert engine.flows is before
    assert sorted(engine.flows) == ["main"]
    (tmp_path / "flows" / "broken.yaml").unlink()
    assert engine.reload() == {"flows": ["main"]}


def test_a_reload_takes_the_config_file_s_live_settings_and_names_those_that_need_a_restart(
    start, tmp_path: Path, caplog
) -> None:
    """SIGHUP (serve_forever) and `flows reload` call reload(): numbers and log level apply at once."""
    engine, _switch = start()
    path = tmp_path / "hotline.yaml"
    (tmp_path / "flows" / "other.yaml").write_text(FLOW.replace("flow: main", "flow: other"))
    text = path.read_text()
    numbers = "calls: {numbers: {'4000': main, '4001': other}}\n"
    root, level = logging.getLogger(), logging.getLogger().level
    try:
        path.write_text(text + numbers + "log_level: LOUD\n")
        with pytest.raises(ConfigError, match=r"hotline\.yaml:\d+: log_level"):  # refused whole
            engine.reload()
        assert engine.config.calls.numbers == {"4000": "main"}
        path.write_text(text.replace("http: {port: 0}", "http: {port: 1}") + numbers + "log_level: WARNING\n")
        with caplog.at_level(logging.INFO, logger="engine.runtime.hotline"):
            assert engine.reload() == {"flows": ["main", "other"], "restart_needed": ["http"]}
        assert engine.config.calls.numbers == {"4000": "main", "4001": "other"}
        assert engine.config.http.port == 0 and root.level == logging.WARNING
        assert "changed settings that need a restart to apply: http" in caplog.text
        path.write_text(text + "calls: {numbers: {'4000': nowhere}}\n")
        with pytest.raises(ConfigError, match="nowhere"):  # a number naming no flow: nothing changes
            engine.reload()
        assert engine.config.calls.numbers == {"4000": "main", "4001": "other"}
        assert sorted(engine.flows) == ["main", "other"]
    finally:
        root.setLevel(level)

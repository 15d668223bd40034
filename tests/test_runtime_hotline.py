"""The engine (Hotline) against a scripted FreeSWITCH: its control and dialler connections go to a
:class:`~tests.switch_peer.Switch`, calls arrive on its real outbound-socket port from the switch's
:class:`~tests.switch_peer.Call`, and the database is the test's own (SQLite, or PostgreSQL in CI).

The tests assert what FreeSWITCH is told, what a call leaves (its CDR) and how reload and start-up fail;
the API backend's answers have their own tests (tests/test_runtime_backend.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.config import ConfigError
from engine.ivr.errors import FlowValidationError
from engine.runtime.hotline import Hotline
from tests.switch_engine import engines
from tests.switch_peer import CALL, Switch, wait_until

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


@pytest.fixture
def start(tmp_path: Path, db_url: str) -> Iterator[Callable[..., tuple[Hotline, Switch]]]:
    yield from engines(tmp_path, db_url)


def test_start_up_subscribes_the_control_connection_and_loads_queues_and_agents_from_the_database(start) -> None:
    engine, switch = start()
    assert "event plain BACKGROUND_JOB CHANNEL_HOLD CHANNEL_UNHOLD" in switch.subscriptions
    assert engine.backend.agents_view() == [{
        "id": "1001", "state": "logged_out", "reason": "", "skills": {"sales": 7}, "calls": 0,
        "seconds_in_state": None, "call": None, "caller": None, "queue": None, "on_hold": False, "consult": None,
    }]  # fmt: skip
    [sales] = engine.backend.queues_view()
    assert (sales["queue"], sales["waiting"], sales["talking"]) == ("sales", 0, 0)


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

"""ops/grafana/*.json: loadable dashboards whose every query reads metrics a running hotline exports."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import gevent
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from engine.store.agents import create_agent
from engine.store.queues import create_queue
from engine.store.skills import create_skill
from tests.hotline_rig import seed, start_rig
from tests.ops_metrics import (
    DASHBOARDS,
    EXPECTED_SOON,
    PROMETHEUS_OWN,
    alert_queries,
    bucket_bounds,
    dashboard_queries,
    metric_names,
    promql,
    promtool,
    registry_metrics,
    sample_names,
)

PROMTOOL = promtool()


def test_the_three_dashboards_are_there_with_unique_uids_and_a_datasource_variable() -> None:
    boards = {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in DASHBOARDS}
    assert sorted(boards) == ["contact-centre", "dialler", "engine"]
    assert len({board["uid"] for board in boards.values()}) == 3
    for name, board in boards.items():
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert variables["datasource"]["query"] == "prometheus", name
        panels = [p for p in board["panels"] if p["type"] != "row"]
        assert panels and all(p["targets"] and p["datasource"]["uid"] == "${datasource}" for p in panels), name
        assert len({p["id"] for p in board["panels"]}) == len(board["panels"]), name


@pytest.mark.parametrize(
    ("board", "wanted"),
    [
        (
            "contact-centre.json",
            {
                "hotline_queue_wait_seconds_bucket",  # service level
                "hotline_queue_wait_seconds_sum",  # ASA
                "hotline_queue_talk_seconds_sum",  # AHT
                "hotline_queue_wrap_seconds_sum",
                "hotline_queue_occupancy",
                "hotline_queue_calls_waiting",  # queue depth
                "hotline_queue_longest_wait_seconds",
                "hotline_agents",  # agents by state
                "hotline_callbacks_pending",  # callbacks due
            },
        ),
        (
            "dialler.json",
            {"hotline_campaign_dial_level", "hotline_campaign_abandon_budget_remaining", "hotline_campaign_amd_total"},
        ),
        (
            "engine.json",
            {
                "hotline_esl_connected",
                "hotline_esl_command_seconds_bucket",
                "hotline_event_loop_lag_seconds_bucket",
                "hotline_db_write_queue_depth",
                "hotline_calls_turned_away_total",
                "hotline_freeswitch_sessions",
            },
        ),
    ],
)
def test_each_dashboard_shows_what_issue_17_asks_of_it(board: str, wanted: set[str]) -> None:
    read = set().union(*(metric_names(expr) for file, _, expr in dashboard_queries() if file == board))
    assert wanted - read == set()


def test_every_query_names_only_metrics_in_the_registry() -> None:
    exported = sample_names(registry_metrics().registry.collect()) | PROMETHEUS_OWN | EXPECTED_SOON
    queries = list(dashboard_queries())
    assert all(metric_names(expr) for _, _, expr in queries)
    unknown = {(file, title, name) for file, title, expr in queries for name in metric_names(expr) - exported}
    assert unknown == set()


def test_every_histogram_bucket_a_query_picks_is_one_hotline_exposes() -> None:
    bounds = bucket_bounds(registry_metrics())
    picked = 0
    for file, title, expr in [*dashboard_queries(), *alert_queries()]:
        for name in metric_names(expr):
            for le in _le_values(expr, name):
                picked += 1
                assert le in bounds[name], f"{file} {title}: {name} has no le={le!r} (has {sorted(bounds[name])})"
    assert picked, "no query picks a bucket: the check checked nothing"


def _le_values(expr: str, name: str) -> list[str]:
    return re.findall(rf'{name}\{{[^}}]*\ble="([^"]+)"', expr)


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (scripts/setup.sh --postgres)")
def test_every_query_parses_as_promql(tmp_path: Path) -> None:
    rules = [
        {"record": f"dashboard:query_{i}", "expr": promql(expr)}
        for i, (_, _, expr) in enumerate(dashboard_queries())
        if not expr.startswith("label_values(")
    ]
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    done = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules)} rules found" in done.stdout


def _seed(s) -> None:
    for name in ("sales", "support", "billing", "vip"):  # every queue the shipped flows name
        create_skill(s, name)
        create_queue(s, name, required_skills={name: 1})
    create_agent(s, "1001", name="Grace", contact="user/1001", skills={"support": 5})


@pytest.mark.integration
@pytest.mark.db
def test_a_running_engine_s_metrics_have_every_name_the_dashboards_and_alerts_read(tmp_path, db_url) -> None:
    seed(db_url, _seed)
    for rig in start_rig(tmp_path, db_url, ["1001"]):
        deadline = time.monotonic() + 10
        while True:  # the channel gauges come from FreeSWITCH's `status`, asked within a second of start
            status, text = rig.api("GET", "/metrics", rig.admin)
            assert status == 200
            if "hotline_freeswitch_max_sessions 5000.0" in text or time.monotonic() > deadline:
                break
            gevent.sleep(0.05)  # polling interval while waiting for the condition above
        assert "hotline_freeswitch_max_sessions 5000.0" in text  # the emulator's "5000 session(s) max"
        assert "hotline_freeswitch_sessions 0.0" in text
        live = sample_names(text_string_to_metric_families(text))
        assert "hotline_esl_connected" in live and 'hotline_esl_connected{connection="control"} 1.0' in text
        for file, title, expr in [*dashboard_queries(), *alert_queries()]:
            missing = metric_names(expr) - live - PROMETHEUS_OWN - EXPECTED_SOON
            assert not missing, f"{file} {title}: {sorted(missing)} not in the live /metrics"

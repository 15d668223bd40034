"""ops/prometheus/alerts.yml: valid rules, every alert unit-tested by promtool, only metrics hotline exports."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.ops_metrics import (
    ALERTS,
    EXPECTED_SOON,
    PROMETHEUS_OWN,
    alert_queries,
    metric_names,
    promtool,
    registry_metrics,
    sample_names,
)

PROMTOOL = promtool()
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is not installed (scripts/setup.sh --postgres puts it in .venv/bin)"
)


def _promtool(*args: str, cwd: Path = ALERTS.parent) -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


@needs_promtool
def test_promtool_accepts_the_rules() -> None:
    done = _promtool("check", "rules", ALERTS.name)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(list(alert_queries()))} rules found" in done.stdout


@needs_promtool
def test_promtool_unit_tests_pass() -> None:
    done = _promtool("test", "rules", "tests.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


@needs_promtool
def test_promtool_unit_tests_catch_a_broken_threshold(tmp_path: Path) -> None:
    """The unit tests check what they claim: the same tests fail against rules with a threshold moved."""
    moved = ALERTS.read_text().replace("hotline_tickets_overdue > 0", "hotline_tickets_overdue > 5")
    assert moved != ALERTS.read_text()
    (tmp_path / "alerts.yml").write_text(moved)
    (tmp_path / "tests.yml").write_text((ALERTS.parent / "tests.yml").read_text())
    done = _promtool("test", "rules", "tests.yml", cwd=tmp_path)
    assert done.returncode != 0 and "HotlineTicketsOverdue" in done.stdout + done.stderr


def test_every_alert_has_a_unit_test_that_sees_it_fire() -> None:
    tests = yaml.safe_load((ALERTS.parent / "tests.yml").read_text())["tests"]
    fired = {case["alertname"] for test in tests for case in test["alert_rule_test"] if case.get("exp_alerts")}
    quiet = {case["alertname"] for test in tests for case in test["alert_rule_test"] if not case.get("exp_alerts")}
    alerts = {name for _, name, _ in alert_queries()}
    assert alerts - fired == set(), "alerts no test sees firing"
    assert alerts - quiet == set(), "alerts no test sees quiet"


def test_every_alert_names_only_metrics_hotline_exports() -> None:
    exported = sample_names(registry_metrics().registry.collect()) | PROMETHEUS_OWN | EXPECTED_SOON
    unknown = {(alert, name) for _, alert, expr in alert_queries() for name in metric_names(expr) - exported}
    assert unknown == set()
    assert all(metric_names(expr) for _, _, expr in alert_queries())


def test_every_alert_has_a_severity_and_a_summary() -> None:
    for group in yaml.safe_load(ALERTS.read_text())["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in ("critical", "warning", "info"), rule["alert"]
            assert rule["annotations"]["summary"], rule["alert"]

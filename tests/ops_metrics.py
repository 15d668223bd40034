"""What the dashboards (ops/grafana/) and alert rules (ops/prometheus/) query, and what hotline exports."""

from __future__ import annotations

import json
import re
import shutil
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import yaml
from prometheus_client import Histogram
from prometheus_client.registry import CollectorRegistry

from engine.metrics import LiveSample, Metrics, OccupancySample, QueueSample

OPS = Path(__file__).parents[1] / "ops"
DASHBOARDS = sorted((OPS / "grafana").glob("*.json"))
ALERTS = OPS / "prometheus" / "alerts.yml"

# Metrics other sessions of issue 17 add to the registry (SIGTERM drain, engine health). The dashboards
# and alerts already use them; THE LEAD EMPTIES THIS SET when those branches are merged, and from then on
# every name must be in the registry like the rest.
EXPECTED_SOON: set[str] = set()
PROMETHEUS_OWN = {"up"}  # written by Prometheus itself for every scrape target
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$window": "1h", "$queue": ".*", "$campaign": ".*"}

_NAME = re.compile(r"\b(hotline_[a-z0-9_]+|up)\b(?=\s*(?:\{|\[|\)|$|\s|==|>|<|/|\*|\+|-|,))")


def dashboard_queries() -> Iterator[tuple[str, str, str]]:
    """``(dashboard file, panel or variable title, PromQL)`` of every target and templating query."""
    for path in DASHBOARDS:
        board = json.loads(path.read_text(encoding="utf-8"))
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                yield path.name, panel["title"], target["expr"]
        for variable in board["templating"]["list"]:
            if variable["type"] == "query":
                yield path.name, f"variable {variable['name']}", variable["query"]["query"]


def alert_queries() -> Iterator[tuple[str, str, str]]:
    """``(alerts file, alert, PromQL)`` of every rule."""
    for group in yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]:
        for rule in group["rules"]:
            yield ALERTS.name, rule["alert"], rule["expr"]


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression (or a Grafana ``label_values(metric, label)``) reads."""
    return set(_NAME.findall(expr))


def promql(expr: str) -> str:
    """A dashboard query with Grafana's variables filled in, as Prometheus would receive it."""
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def sample_names(families: Iterable) -> set[str]:
    """Every sample name the metric families can expose (``_total``, ``_bucket``... by type)."""
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_sum", "_count", "_created"),
        "summary": ("", "_sum", "_count", "_created"),
        "gauge": ("",),
        "untyped": ("",),
        "unknown": ("",),
    }
    return {family.name + suffix for family in families for suffix in suffixes[family.type]}


def registry_metrics() -> Metrics:
    """One engine's metrics with the scrape-time collectors attached, as the engine builds them."""
    metrics = Metrics()
    metrics.watch_live(lambda: LiveSample([QueueSample("q", 0, 0.0, {"ready": 0})], {"ready": 0}))
    metrics.watch_occupancy(lambda: OccupancySample(900, {}, {}, {}))
    return metrics


def bucket_bounds(metrics: Metrics) -> dict[str, set[str]]:
    """``<histogram>_bucket`` -> the ``le`` values it exposes (``"20.0"``), from one observation each."""
    probe = CollectorRegistry()
    out: dict[str, set[str]] = {}
    for value in vars(metrics).values():
        if isinstance(value, Histogram):
            name = value._name  # the family name prometheus_client exposes
            copy = Histogram(name, "probe", value._labelnames, buckets=value._upper_bounds, registry=probe)
            (copy.labels(*["x"] * len(value._labelnames)) if value._labelnames else copy).observe(0)
            out[f"{name}_bucket"] = set()
    for family in probe.collect():
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                out[sample.name].add(sample.labels["le"])
    return out


def promtool() -> str | None:
    """Debian's promtool: on PATH, or where scripts/setup.sh's test set-up puts it (.venv/bin)."""
    beside = Path(sys.executable).parent / "promtool"
    return str(beside) if beside.exists() else shutil.which("promtool")

"""Counting node entries and failed inputs from a run's trace (shipped main flow, dry run)."""

from __future__ import annotations

from pathlib import Path

from engine.ivr.dryrun import dry_run
from engine.ivr.loader import load_flows
from engine.ivr.tally import tally

FLOWS = Path(__file__).parents[1] / "ivr_flows"


def test_silence_then_a_wrong_key_then_support_is_counted_per_node():
    main = load_flows(FLOWS)["main"]
    report = dry_run(main, inputs=["noinput", "9", "2"])
    counts = tally(report.trace)
    assert counts.failures[("main_menu", "noinput")] == 1
    assert counts.failures[("main_menu", "nomatch")] == 1
    assert counts.entries["main_menu"] == 1  # retries stay in the node: one entry
    assert counts.entries["support"] == 1


def test_revisits_count_again():
    main = load_flows(FLOWS)["main"]
    report = dry_run(main, inputs=["2"])
    counts = tally(report.trace + report.trace)
    assert counts.entries["main_menu"] == 2

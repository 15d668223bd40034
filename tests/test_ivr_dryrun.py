"""Dry runs: scripted inputs, readable traces, and the flows' own `tests:` sections."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.ivr.dryrun import DryRunError, dry_run, main, run_flow_tests
from engine.ivr.loader import load_flows, parse_flow

FLOWS_DIR = Path(__file__).parent.parent / "ivr_flows"
SHIPPED = load_flows(
    FLOWS_DIR, skills={"sales", "support", "billing", "vip"}, queues={"sales", "support", "billing", "vip"}
)
CASES = [(name, i) for name, flow in SHIPPED.items() for i in range(len(flow.tests))]


def test_every_shipped_flow_carries_tests() -> None:
    assert set(SHIPPED) == {"main", "ticket_status", "after_hours", "fax_on_demand", "survey"}
    assert all(flow.tests for flow in SHIPPED.values())


@pytest.mark.parametrize(("flow", "index"), CASES, ids=[f"{n}-{i}" for n, i in CASES])
def test_shipped_flow_tests_pass(flow: str, index: int) -> None:
    result = run_flow_tests(SHIPPED[flow])[index]
    assert result.passed, f"{result.name}: {result.failures}\n{result.report}"


def test_trace_is_readable_and_terminator_is_split_off() -> None:
    report = dry_run(
        SHIPPED["ticket_status"],
        inputs=["123456#", "1"],
        lookups={"ticket_status:123456": {"status": "open", "updated": "2024-05-01"}},
    )
    text = report.render()
    assert "ask_ticket" in text and "input='123456'" in text and "Ticket 123456 is open" in text
    assert report.variables["ticket_number"] == "123456"
    assert report.nodes[:3] == ["ask_ticket", "find_ticket", "speak_status"]


def test_running_out_of_inputs_is_silence_and_leftovers_are_reported() -> None:
    report = dry_run(SHIPPED["main"], lookups={"customer": {"tier": "vip", "name": "V"}}, inputs=["1"])
    assert report.outcome == "queued" and report.unused_inputs == ["1"]
    silent = dry_run(SHIPPED["main"])
    assert silent.final.queue == "billing"  # three silences -> agent


def test_speech_to_a_keys_question_is_an_error() -> None:
    with pytest.raises(DryRunError, match="asks for keys"):
        dry_run(SHIPPED["ticket_status"], inputs=["say:one two three"])


def test_failing_expectations_are_reported() -> None:
    flow, _ = parse_flow(
        """
nodes:
  a:
    say: hello
  b:
    hangup: NORMAL_CLEARING
tests:
  - name: wrong on purpose
    expect_outcome: queued
    expect_nodes: [b, a]
    expect_said: [goodbye]
    expect_action: {cause: USER_BUSY}
""",
        "t.yaml",
    )
    [result] = run_flow_tests(flow)
    assert not result.passed
    assert len(result.failures) == 4


def test_command_line_runs_all_flow_tests(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(FLOWS_DIR)]) == 0
    assert "PASS main:" in capsys.readouterr().out
    assert main([str(FLOWS_DIR), "survey", "5", "2"]) == 0
    assert "resolution_score=2" in capsys.readouterr().out

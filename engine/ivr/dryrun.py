"""Run a flow without a phone: scripted caller inputs and CRM data in, a readable trace out.

Inputs answer the questions the flow asks, in order:
  "1", "123456#"   keys pressed (a trailing terminator such as # is reported as the terminator)
  "say:billing"    the caller says "billing" (add "@0.3" for a recogniser confidence of 0.3)
  "noinput"        the caller stays silent; running out of inputs also counts as silence
  "hangup"         the caller hangs up at that point
  "record:12"      a 12 second message (when the flow records; default 10 s)
  "fax:fail"       the fax fails (when the flow sends one; default: delivered)
Lookups: {"customer": {...}} answers every customer lookup; {"ticket_status:123456": {...}} answers one key.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.ivr.actions import (
    Action,
    CollectDigits,
    DigitsResult,
    FaxResult,
    Lookup,
    LookupResult,
    Play,
    PlayResult,
    Recognise,
    Record,
    RecordResult,
    Result,
    Say,
    SendFax,
    SpeechResult,
    is_terminal,
)
from engine.ivr.errors import FlowValidationError
from engine.ivr.flow import Flow
from engine.ivr.interpreter import CallContext, FlowRun, SurveyScore, TraceEntry, describe_prompt
from engine.ivr.loader import load_flows

DEFAULT_TIME = datetime(2024, 5, 6, 10, 0)  # a Monday morning
MAX_ACTIONS = 1000


class DryRunError(ValueError):
    """A scripted input does not fit the question the flow asked."""


@dataclass
class DryRunReport:
    """Everything a dry run did: trace, actions, words spoken, final outcome and variables."""

    flow: str
    outcome: str | None
    final: Action | None
    trace: list[TraceEntry]
    actions: list[Action]
    said: list[str]
    variables: dict[str, Any]
    survey: list[SurveyScore]
    unused_inputs: list[str] = field(default_factory=list)

    @property
    def nodes(self) -> list[str]:
        """Nodes visited, in order (one entry per visit)."""
        out: list[str] = []
        for entry in self.trace:
            if not out or out[-1] != entry.node:
                out.append(entry.node)
        return out

    def render(self) -> str:
        """The trace as text for a person."""
        lines = [f"flow {self.flow}"]
        lines.extend(f"  {entry}" for entry in self.trace)
        lines.append(f"outcome: {self.outcome}  ({self.final})")
        if self.unused_inputs:
            lines.append(f"unused inputs: {self.unused_inputs}")
        return "\n".join(lines)

    __str__ = render


def _answer(action: Action, inputs: list[str], lookups: dict[str, dict[str, Any]]) -> Result | None:
    """The scripted result for one action; None means the caller hangs up."""
    if isinstance(action, Play | Say):
        return PlayResult()
    if isinstance(action, Lookup):
        data = lookups.get(f"{action.kind}:{action.key}", lookups.get(action.kind, {}))
        return LookupResult(dict(data))
    if isinstance(action, Record):
        seconds = float(inputs.pop(0)[7:]) if inputs and inputs[0].startswith("record:") else 10.0
        return RecordResult(f"{action.path_hint}.wav", seconds)
    if isinstance(action, SendFax):
        return FaxResult(not (inputs and inputs[0].startswith("fax:") and inputs.pop(0) == "fax:fail"))
    if not isinstance(action, CollectDigits | Recognise):
        raise DryRunError(f"no scripted answer for {action}")
    token = inputs.pop(0) if inputs else "noinput"
    if token == "hangup":
        return None
    if token in ("noinput", ""):
        return DigitsResult("") if isinstance(action, CollectDigits) else SpeechResult("", 0.0)
    if token.startswith("say:"):
        if not isinstance(action, Recognise):
            raise DryRunError(f"input {token!r} is speech but the flow asks for keys")
        text, _, confidence = token[4:].partition("@")
        return SpeechResult(text, float(confidence) if confidence else 1.0)
    if isinstance(action, Recognise) and not action.dtmf_digits:
        raise DryRunError(f"input {token!r} is keys but the flow asks for speech (use say:...)")
    terminators = action.terminators if isinstance(action, CollectDigits) else ""
    if len(token) > 1 and token[-1] in terminators:
        return DigitsResult(token[:-1], token[-1])
    return DigitsResult(token)


def dry_run(
    flow: Flow,
    caller: str = "+441632960000",
    inputs: list[str] | tuple[str, ...] = (),
    lookups: dict[str, dict[str, Any]] | None = None,
    *,
    called: str = "+441632960999",
    variables: dict[str, Any] | None = None,
    now: datetime = DEFAULT_TIME,
    call_uuid: str = "dry-run",
) -> DryRunReport:
    """Run `flow` to its end with scripted inputs and CRM data (see the module docstring for the format)."""
    run = FlowRun(flow, CallContext(caller, called, call_uuid, variables or {}), lambda: now)
    remaining = list(inputs)
    actions: list[Action] = []
    said: list[str] = []
    action: Action | None = run.start()
    while action is not None:
        actions.append(action)
        if isinstance(action, Play | Say):
            said.append(describe_prompt(action))
        said.extend(describe_prompt(p) for p in getattr(action, "prompts", ()))
        if is_terminal(action) or len(actions) >= MAX_ACTIONS:
            break
        result = _answer(action, remaining, lookups or {})
        if result is None:
            run.abandon()
            action = None
        else:
            action = run.resume(result)
    return DryRunReport(
        flow.name, run.outcome, action, run.trace, actions, said, dict(run.variables), run.survey, remaining
    )


@dataclass(frozen=True)
class FlowTestResult:
    """One `tests:` scenario: passed or not, why, and the full report."""

    name: str
    failures: tuple[str, ...]
    report: DryRunReport

    @property
    def passed(self) -> bool:
        return not self.failures


def _is_subsequence(wanted: tuple[str, ...], seen: list[str]) -> bool:
    it = iter(seen)
    return all(any(node == s for s in it) for node in wanted)


def run_flow_tests(flow: Flow) -> list[FlowTestResult]:
    """Run every scenario in the flow's `tests:` section."""
    results = []
    for test in flow.tests:
        report = dry_run(
            flow,
            test.caller,
            test.inputs,
            test.lookups,
            called=test.called,
            variables=dict(test.variables),
            now=test.time,
        )
        failures: list[str] = []
        if test.expect_outcome is not None and report.outcome != test.expect_outcome:
            failures.append(f"outcome {report.outcome!r}, expected {test.expect_outcome!r}")
        if not _is_subsequence(test.expect_nodes, report.nodes):
            failures.append(f"visited {report.nodes}, expected to pass {list(test.expect_nodes)} in that order")
        spoken = " | ".join(report.said).lower()
        failures.extend(f"never said {text!r}" for text in test.expect_said if text.lower() not in spoken)
        for name, value in test.expect_action.items():
            actual = type(report.final).__name__.lower() if name == "type" else getattr(report.final, name, None)
            if str(actual) != str(value):
                failures.append(f"final action {name}={actual!r}, expected {value!r}")
        for name, value in test.expect_variables.items():
            if str(report.variables.get(name)) != str(value):
                failures.append(f"variable {name}={report.variables.get(name)!r}, expected {value!r}")
        results.append(FlowTestResult(test.name, tuple(failures), report))
    return results


def main(argv: list[str] | None = None) -> int:
    """`python -m engine.ivr.dryrun FLOWS_DIR [FLOW INPUT...]`: run all flow tests, or one run."""
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m engine.ivr.dryrun FLOWS_DIR [FLOW [INPUT ...]]", file=sys.stderr)
        return 2
    try:
        flows = load_flows(args[0])
    except FlowValidationError as exc:
        print(exc, file=sys.stderr)
        return 1
    if len(args) > 1:
        print(dry_run(flows[args[1]], inputs=args[2:]))
        return 0
    failed = 0
    for flow in flows.values():
        for result in run_flow_tests(flow):
            failed += not result.passed
            print(f"{'PASS' if result.passed else 'FAIL'} {flow.name}: {result.name}")
            for failure in result.failures:
                print(f"     {failure}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Engine CPU per IVR interpreter step (goal: well under 1 ms).

Runs the shipped main and ticket_status flows through scripted scenarios with FlowRun directly (no dry-run
bookkeeping) and reports CPU time per start()/resume() call, which is one interpreter step for the shell.
Usage: PYTHONPATH=. python bench/ivr_step.py [iterations]
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path

from engine.ivr.actions import (
    Action,
    CollectDigits,
    DigitsResult,
    Lookup,
    LookupResult,
    PlayResult,
    Recognise,
    Result,
    SpeechResult,
    is_terminal,
)
from engine.ivr.interpreter import CallContext, FlowRun
from engine.ivr.loader import load_flows

FLOWS = load_flows(Path(__file__).parent.parent / "ivr_flows")
NOW = datetime(2024, 5, 6, 10, 0)
SCENARIOS: dict[str, tuple[str, list[str], dict]] = {
    "main: silence, wrong key, then sales": ("main", ["", "7", "1"], {"name": "Ann", "tier": "gold"}),
    "main: speech keyword": ("main", ["say:I need support"], {}),
    "ticket_status: key, confirm, status": (
        "ticket_status",
        ["123456", "1", ""],
        {"status": "open", "updated": "x"},
    ),
}


def _result(action: Action, inputs: list[str], data: dict) -> Result:
    if isinstance(action, Lookup):
        return LookupResult(data)
    if isinstance(action, CollectDigits | Recognise):
        token = inputs.pop(0) if inputs else ""
        if token.startswith("say:"):
            return SpeechResult(token[4:], 0.9)
        return DigitsResult(token) if isinstance(action, CollectDigits) or token else SpeechResult("")
    return PlayResult()


def measure(flow_name: str, inputs: list[str], data: dict, iterations: int) -> tuple[float, int]:
    """Return (CPU seconds spent inside FlowRun calls, number of calls)."""
    flow = FLOWS[flow_name]
    spent = 0.0
    steps = 0
    for _ in range(iterations):
        remaining = list(inputs)
        t0 = time.process_time()
        run = FlowRun(flow, CallContext("+441632960001", "+441632960999", "bench"), lambda: NOW)
        action = run.start()
        spent += time.process_time() - t0
        steps += 1
        while not is_terminal(action):
            result = _result(action, remaining, data)
            t0 = time.process_time()
            action = run.resume(result)
            spent += time.process_time() - t0
            steps += 1
    return spent, steps


def main() -> None:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    print(f"{'scenario':<42} {'steps':>8} {'us/step':>9}")
    worst = 0.0
    for name, (flow, inputs, data) in SCENARIOS.items():
        spent, steps = measure(flow, inputs, data, iterations)
        per_step = spent / steps * 1e6
        worst = max(worst, per_step)
        print(f"{name:<42} {steps:>8} {per_step:>9.1f}")
    print(f"worst: {worst:.1f} us per step (goal < 1000 us) -> {'OK' if worst < 1000 else 'TOO SLOW'}")


if __name__ == "__main__":
    main()

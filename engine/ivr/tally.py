"""What one run of a flow did, counted per node: for per-flow and per-node metrics (pure)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from engine.ivr.interpreter import TraceEntry

FAILURE_KINDS = ("noinput", "nomatch", "rejected")


@dataclass(frozen=True)
class RunTally:
    """Node entries (a revisit counts again) and failed inputs by (node, kind)."""

    entries: Counter[str] = field(default_factory=Counter)
    failures: Counter[tuple[str, str]] = field(default_factory=Counter)


def tally(trace: list[TraceEntry]) -> RunTally:
    result = RunTally()
    previous = None
    for entry in trace:
        if entry.node != previous:
            result.entries[entry.node] += 1
            previous = entry.node
        kind = entry.outcome.split(" ", 1)[0]
        if kind in FAILURE_KINDS:
            result.failures[(entry.node, kind)] += 1
    return result

"""The vocabulary of call attempt outcomes shared by compliance, statistics and simulation."""

from __future__ import annotations

from enum import StrEnum


class CallOutcome(StrEnum):
    """How one dial attempt ended."""

    LIVE = "live"  # a person answered and reached an agent
    ABANDONED = "abandoned"  # a person answered and no agent took the call within the allowed time
    MACHINE = "machine"  # an answering machine answered
    NO_ANSWER = "no_answer"  # rang out
    BUSY = "busy"
    FAILED = "failed"  # network failure, invalid number at the carrier, ...

"""Which answered calls are recorded (pure): agents under a recording rule, and a stable sample
by call id of each queue's calls."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def sampled(call_id: str, percent: float) -> bool:
    """True for about ``percent`` % of call ids; always the same answer for one id."""
    if percent >= 100:
        return True
    if percent <= 0:
        return False
    bucket = int.from_bytes(hashlib.sha256(call_id.encode()).digest()[:4], "big") % 10_000
    return bucket < percent * 100


def recording_reason(call_id: str, percent: float, rule_ids: Sequence[int]) -> str | None:
    """Why an answered call is recorded, or None: a rule covering its agent now comes first
    (``rule <id>``), then the queue's sample (``policy``)."""
    if rule_ids:
        return f"rule {rule_ids[0]}"
    return "policy" if sampled(call_id, percent) else None

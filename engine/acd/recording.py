"""Which answered calls a queue records: a stable sample by call id (pure)."""

from __future__ import annotations

import hashlib


def sampled(call_id: str, percent: float) -> bool:
    """True for about ``percent`` % of call ids; always the same answer for one id."""
    if percent >= 100:
        return True
    if percent <= 0:
        return False
    bucket = int.from_bytes(hashlib.sha256(call_id.encode()).digest()[:4], "big") % 10_000
    return bucket < percent * 100

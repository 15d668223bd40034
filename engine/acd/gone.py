"""The calls whose caller FreeSWITCH said is gone: remembered so that none is ever offered again."""

from __future__ import annotations

from collections import OrderedDict

GONE_MEMORY = 10_000
"""How many gone call ids the ACD remembers (oldest forgotten first): far more than can be in flight."""


class GoneCalls:
    """A bounded, insertion-ordered set of call ids whose caller's channel is gone."""

    def __init__(self, limit: int = GONE_MEMORY) -> None:
        self._limit = limit
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, call_id: str) -> None:
        self._ids[call_id] = None
        self._ids.move_to_end(call_id)
        while len(self._ids) > self._limit:
            self._ids.popitem(last=False)

    def __contains__(self, call_id: object) -> bool:
        return call_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

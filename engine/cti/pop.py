"""The screen pop: everything an agent should know about a caller when the phone rings."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ScreenPop:
    """Sent on offer (``phase='offer'``) and again on answer (``phase='answer'``)."""

    phase: str
    call_id: str
    caller_number: str
    queue: str
    waited_seconds: float
    customer: dict[str, Any] | None = None
    last_interactions: list[dict[str, Any]] = field(default_factory=list)
    open_tickets: list[dict[str, Any]] = field(default_factory=list)
    ivr_path: list[str] = field(default_factory=list)
    ivr_inputs: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["customer_name"] = self.customer["name"] if self.customer else "unknown"
        data["tier"] = self.customer["tier"] if self.customer else None
        return data

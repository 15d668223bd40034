"""The shell's view of bridged calls' agent legs (engine/runtime/notices.py): read from the ACD, never a copy."""

from __future__ import annotations

import pytest

from engine.acd import commands
from engine.acd.core import Acd
from engine.acd.model import Agent, QueueConfig
from engine.runtime.notices import AgentLegs


def answered(acd: Acd, call_id: str, now: float) -> None:
    [offer] = [c for c in acd.enqueue(call_id, "sales", 0, now) if isinstance(c, commands.Offer)]
    acd.offer_answered(offer.offer_id, now)


def test_the_view_follows_the_acd_as_bridges_form_and_calls_end() -> None:
    acd = Acd()
    acd.configure_queue(QueueConfig("sales", "sales"), 0)
    for agent_id in ("1001", "1002"):
        acd.add_agent(Agent(agent_id, {"sales": 5}, contact=f"user/{agent_id}"))
        acd.agent_login(agent_id, 0)
    legs = AgentLegs(acd)
    answered(acd, "c1", 1)
    answered(acd, "c2", 2)
    assert dict(legs) == {} and len(legs) == 0 and "c1" not in legs  # answered, not joined yet
    with pytest.raises(KeyError, match="c1"):
        legs["c1"]
    acd.bridge_formed("c1", "leg-1")
    acd.bridge_formed("c2", "leg-2")
    assert dict(legs) == {"c1": "leg-1", "c2": "leg-2"} and len(legs) == 2 and legs.get("c2") == "leg-2"
    acd.call_ended("c1", 3)
    assert dict(legs) == {"c2": "leg-2"} and legs.get("c1") is None

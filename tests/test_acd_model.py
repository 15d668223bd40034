"""Validation of ACD settings and records."""

from __future__ import annotations

import pytest

from engine.acd.model import Agent, AgentSkill, EscalationStep, QueueConfig, QueuedCall, Strategy


def test_queue_defaults() -> None:
    queue = QueueConfig("sales", "sales")
    assert (
        queue.min_level,
        queue.strategy,
        queue.wrap_up_seconds,
        queue.ring_timeout_seconds,
        queue.max_no_answer,
        queue.max_wait_seconds,
    ) == (1, Strategy.LONGEST_IDLE, 10.0, 20.0, 3, None)
    assert QueueConfig("x", "x", strategy="ring_all").strategy is Strategy.RING_ALL


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_level": 11}, r"QueueConfig\('q'\)\.min_level"),
        ({"min_level": True}, "min_level"),
        ({"strategy": "fastest"}, "strategy: 'fastest' is not one of"),
        ({"wrap_up_seconds": -1}, "wrap_up_seconds"),
        ({"ring_timeout_seconds": 0}, "ring_timeout_seconds"),
        ({"max_no_answer": -1}, "max_no_answer"),
        ({"max_wait_seconds": 60}, "exit_target"),
        ({"escalation": (EscalationStep(20, min_level=1), EscalationStep(10, min_level=1))}, "increasing"),
        ({"min_level": 3, "escalation": (EscalationStep(10, min_level=5),)}, "narrow"),
        ({"escalation": ("x",)}, "escalation"),
        ({"skill": ""}, "skill"),
    ],
)
def test_bad_queue_settings_name_the_field(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        QueueConfig("q", **{"skill": "s", **kwargs})


def test_escalation_steps_and_skills_are_validated() -> None:
    with pytest.raises(ValueError, match="at least one"):
        EscalationStep(10)
    with pytest.raises(ValueError, match="after_seconds"):
        EscalationStep(-1, min_level=1)
    with pytest.raises(ValueError, match=r"AgentSkill\.level"):
        AgentSkill("x", 0)
    assert EscalationStep(5, extra_skills=(AgentSkill("vip"),)).extra_skills[0].level == 1


def test_agent_skills_are_validated_and_read() -> None:
    agent = Agent("a", {"sales": 7})
    assert (agent.level("sales"), agent.level("other")) == (7, 0)
    with pytest.raises(ValueError, match=r"Agent\('b'\)\.skills\['sales'\]"):
        Agent("b", {"sales": 12})


def test_queued_call_order_is_priority_then_time_then_arrival() -> None:
    calls = [
        QueuedCall("a", "q", 0, 5.0, seq=2),
        QueuedCall("b", "q", 1, 9.0, seq=3),
        QueuedCall("c", "q", 0, 5.0, seq=1),
    ]
    assert [c.call_id for c in sorted(calls, key=QueuedCall.sort_key)] == ["b", "c", "a"]

"""The ACD's records: agents, queue settings, queued calls and offers.

Settings (:class:`QueueConfig`, :class:`EscalationStep`, :class:`AgentSkill`) are
frozen and validated on construction; a bad value raises ``ValueError`` naming the
field.  Runtime records (:class:`Agent`, :class:`QueuedCall`, :class:`Offer`) are
mutable and owned by :class:`engine.acd.core.Acd` alone; its views hand out frozen copies
(:mod:`engine.acd.queries`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from engine.acd.states import AgentState, CallState, OfferState

MIN_LEVEL = 1
DTMF_KEYS = "0123456789*#"
MAX_LEVEL = 10


class Strategy(StrEnum):
    """How a queue picks among eligible agents (see :mod:`engine.acd.strategies`)."""

    LONGEST_IDLE = "longest_idle"
    MOST_SKILLED = "most_skilled"
    SKILL_WEIGHTED = "skill_weighted"
    LEAST_TALK_TIME = "least_talk_time"
    FEWEST_CALLS = "fewest_calls"
    ROUND_ROBIN = "round_robin"
    TOP_DOWN = "top_down"
    RING_ALL = "ring_all"
    RANDOM = "random"


def _check_level(owner: str, name: str, level: int) -> None:
    if isinstance(level, bool) or not isinstance(level, int) or not MIN_LEVEL <= level <= MAX_LEVEL:
        raise ValueError(f"{owner}.{name}: skill level must be an integer {MIN_LEVEL}..{MAX_LEVEL}, got {level!r}")


def _check_seconds(owner: str, name: str, value: float | None, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{owner}.{name}: must be a number of seconds >= 0, got {value!r}")


def _check_name(owner: str, name: str, value: str) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{owner}.{name}: must be a non-empty string, got {value!r}")


@dataclass(frozen=True, slots=True)
class AgentSkill:
    """A skill at a minimum level 1..10 (used by escalation steps to widen a queue)."""

    skill: str
    level: int = MIN_LEVEL

    def __post_init__(self) -> None:
        _check_name("AgentSkill", "skill", self.skill)
        _check_level("AgentSkill", "level", self.level)


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """After a call waited ``after_seconds``, widen who may take it.

    ``min_level`` lowers the queue's own minimum level; ``extra_skills`` also accept
    agents holding any of these skills at the given level; ``overflow_queue`` also
    accepts the agents eligible for that (already configured) queue.  Steps are
    cumulative.
    """

    after_seconds: float
    min_level: int | None = None
    extra_skills: tuple[AgentSkill, ...] = ()
    overflow_queue: str | None = None

    def __post_init__(self) -> None:
        _check_seconds("EscalationStep", "after_seconds", self.after_seconds)
        if self.min_level is not None:
            _check_level("EscalationStep", "min_level", self.min_level)
        if not all(isinstance(s, AgentSkill) for s in self.extra_skills):
            raise ValueError("EscalationStep.extra_skills: must be a tuple of AgentSkill")
        if self.overflow_queue is not None:
            _check_name("EscalationStep", "overflow_queue", self.overflow_queue)
        if self.min_level is None and not self.extra_skills and self.overflow_queue is None:
            raise ValueError("EscalationStep: set at least one of min_level, extra_skills, overflow_queue")


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """One queue's settings; docs/acd.md explains each one."""

    name: str
    skill: str
    min_level: int = MIN_LEVEL
    strategy: Strategy = Strategy.LONGEST_IDLE
    wrap_up_seconds: float = 10.0
    ring_timeout_seconds: float = 20.0
    no_answer_delay_seconds: float = 10.0
    busy_delay_seconds: float = 30.0
    reject_delay_seconds: float = 10.0
    failed_delay_seconds: float = 30.0
    max_no_answer: int = 3
    max_wait_seconds: float | None = None
    exit_target: str | None = None
    escalation: tuple[EscalationStep, ...] = ()
    skill_weight_seconds: float = 60.0
    resume_seconds: float = 0.0
    announce_seconds: float = 0.0
    exit_keys: tuple[tuple[str, str], ...] = ()
    record_percent: float = 0.0
    callback_attempts: int = 3
    callback_retry_seconds: float = 300.0
    callback_ring_seconds: float = 30.0

    def __post_init__(self) -> None:
        owner = f"QueueConfig({self.name!r})"
        _check_name(owner, "name", self.name)
        _check_name(owner, "skill", self.skill)
        _check_level(owner, "min_level", self.min_level)
        try:
            object.__setattr__(self, "strategy", Strategy(self.strategy))
        except ValueError:
            choices = ", ".join(s.value for s in Strategy)
            raise ValueError(f"{owner}.strategy: {self.strategy!r} is not one of {choices}") from None
        for name in (
            "wrap_up_seconds",
            "no_answer_delay_seconds",
            "busy_delay_seconds",
            "reject_delay_seconds",
            "failed_delay_seconds",
            "skill_weight_seconds",
            "resume_seconds",
            "announce_seconds",
            "callback_retry_seconds",
        ):
            _check_seconds(owner, name, getattr(self, name))
        _check_seconds(owner, "max_wait_seconds", self.max_wait_seconds, allow_none=True)
        _check_seconds(owner, "ring_timeout_seconds", self.ring_timeout_seconds)
        if not self.ring_timeout_seconds:
            raise ValueError(f"{owner}.ring_timeout_seconds: must be > 0")
        if not self.callback_ring_seconds or not isinstance(self.callback_ring_seconds, int | float):
            raise ValueError(f"{owner}.callback_ring_seconds: must be a number of seconds > 0")
        attempts = self.callback_attempts
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ValueError(f"{owner}.callback_attempts: an integer >= 1, got {attempts!r}")
        no_answers = self.max_no_answer
        if isinstance(no_answers, bool) or not isinstance(no_answers, int) or no_answers < 0:
            raise ValueError(f"{owner}.max_no_answer: an integer >= 0 (0 = never), got {no_answers!r}")
        if self.max_wait_seconds is not None and not self.exit_target:
            raise ValueError(f"{owner}.exit_target: required when max_wait_seconds is set")
        _check_seconds(owner, "record_percent", self.record_percent)
        if self.record_percent > 100:
            raise ValueError(f"{owner}.record_percent: a percentage 0..100, got {self.record_percent!r}")
        for key, target in self.exit_keys:
            if not isinstance(key, str) or len(key) != 1 or key not in DTMF_KEYS:
                raise ValueError(f"{owner}.exit_keys: {key!r} is not one DTMF key ({DTMF_KEYS})")
            _check_name(owner, f"exit_keys[{key!r}]", target)
        if not all(isinstance(s, EscalationStep) for s in self.escalation):
            raise ValueError(f"{owner}.escalation: must be a tuple of EscalationStep")
        for i, step in enumerate(self.escalation):
            if step.min_level is not None and step.min_level > self.min_level:
                raise ValueError(
                    f"{owner}.escalation[{i}].min_level: {step.min_level} would narrow "
                    f"the queue (min_level {self.min_level}); escalation only widens"
                )
        times = [s.after_seconds for s in self.escalation]
        if times != sorted(times):
            raise ValueError(f"{owner}.escalation: steps must be in increasing after_seconds order")


@dataclass(slots=True)
class Agent:
    """An agent and their live routing state.

    ``skills`` maps skill name to level 1..10.  ``state_since`` is when the agent
    entered ``state`` (for a ready agent: the start of their idle time).
    ``available_at`` holds a ready agent out of routing until then (no-answer,
    busy, reject or failure delay).
    """

    id: str
    skills: dict[str, int] = field(default_factory=dict)
    contact: str = ""
    order: int = 0
    state: AgentState = AgentState.LOGGED_OUT
    state_since: float = 0.0
    reason: str = ""
    last_call_ended_at: float | None = None
    calls_handled: int = 0
    talk_seconds: float = 0.0
    no_answer_count: int = 0
    available_at: float = 0.0
    offer_id: str | None = None
    call_id: str | None = None
    wrap_up_until: float | None = None
    wrap_up_queue: str | None = None

    def __post_init__(self) -> None:
        owner = f"Agent({self.id!r})"
        _check_name(owner, "id", self.id)
        for skill, level in self.skills.items():
            _check_name(owner, "skills", skill)
            _check_level(owner, f"skills[{skill!r}]", level)

    def level(self, skill: str) -> int:
        """The agent's level in ``skill``; 0 when they do not have it."""
        return self.skills.get(skill, 0)


@dataclass(slots=True)
class QueuedCall:
    """A call the ACD is responsible for, from enqueue until it ends or leaves.

    Re-queued calls keep ``enqueued_at``, ``priority`` and ``seq`` (arrival order),
    which puts them back at the head of their queue.  A ``resumed`` call is a caller who
    abandoned and called back within the queue's ``resume_seconds``: it has the first
    call's ``enqueued_at``, so it is back where that call was.  ``escalation`` counts the
    escalation steps applied.  ``agent_leg`` is the agent's channel once the shell saw it joined to the
    caller (:meth:`~engine.acd.offers.Offers.bridge_formed`).  A ``callback`` call is virtual: the caller
    hung up and is called back when an agent takes it; ``attempts`` counts the dials that did not reach them.
    """

    call_id: str
    queue: str
    priority: int
    enqueued_at: float
    caller: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    seq: int = 0
    state: CallState = CallState.QUEUED
    escalation: int = 0
    offer_ids: set[str] = field(default_factory=set)
    agent_id: str | None = None
    bridged_at: float | None = None
    agent_leg: str | None = None
    confirmed: bool = True
    resumed: bool = False
    callback: bool = False
    attempts: int = 0

    def sort_key(self) -> tuple[int, float, int]:
        """Serving order: higher priority first, then longest waiting, then arrival order."""
        return (-self.priority, self.enqueued_at, self.seq)


@dataclass(slots=True)
class Offer:
    """A call ringing at one agent."""

    offer_id: str
    call_id: str
    agent_id: str
    queue: str
    started_at: float
    state: OfferState = OfferState.RINGING

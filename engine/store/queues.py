"""ACD queues: strategy, timers and required skills with minimum levels."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.acd.model import Strategy
from engine.store.errors import Conflict, InvalidInput, NotFound
from engine.store.models import Queue, QueueSkill
from engine.store.skills import get_skill
from engine.store.validation import non_empty, skill_level

DEFAULT_STRATEGY = Strategy.LONGEST_IDLE.value
DEFAULT_MAX_WAIT_SECONDS = 300


def create_queue(
    session: Session,
    name: str,
    *,
    strategy: str = DEFAULT_STRATEGY,
    wrap_up_seconds: int = 0,
    max_wait_seconds: int = DEFAULT_MAX_WAIT_SECONDS,
    required_skills: Mapping[str, int] | None = None,
) -> Queue:
    """Add queue *name*; *required_skills* maps existing skill names to minimum levels 1..10.

    Raises InvalidInput (naming the field), NotFound (unknown skill) or Conflict (name taken).
    """
    if session.scalar(select(Queue).where(Queue.name == non_empty("queue.name", name))) is not None:
        raise Conflict("queue", name, "already exists")
    queue = Queue(name=name)
    _apply(session, queue, strategy, wrap_up_seconds, max_wait_seconds, required_skills or {})
    session.add(queue)
    session.flush()
    return queue


def get_queue(session: Session, name: str) -> Queue:
    """Queue *name*; raises NotFound."""
    queue = session.scalar(select(Queue).where(Queue.name == name))
    if queue is None:
        raise NotFound("queue", name)
    return queue


def list_queues(session: Session) -> list[Queue]:
    """Every queue, by name."""
    return list(session.scalars(select(Queue).order_by(Queue.name)))


def update_queue(
    session: Session,
    name: str,
    *,
    strategy: str | None = None,
    wrap_up_seconds: int | None = None,
    max_wait_seconds: int | None = None,
    required_skills: Mapping[str, int] | None = None,
) -> Queue:
    """Change the given settings of queue *name*; *required_skills*, when given, replaces the set."""
    queue = get_queue(session, name)
    _apply(session, queue, strategy, wrap_up_seconds, max_wait_seconds, required_skills)
    session.flush()
    return queue


def remove_queue(session: Session, name: str) -> None:
    """Delete queue *name* and its skill requirements; raises NotFound."""
    session.delete(get_queue(session, name))
    session.flush()


def _apply(
    session: Session,
    queue: Queue,
    strategy: str | None,
    wrap_up_seconds: int | None,
    max_wait_seconds: int | None,
    required_skills: Mapping[str, int] | None,
) -> None:
    """Validate and set the given (non-None) settings on *queue*."""
    if strategy is not None:
        if strategy not in {s.value for s in Strategy}:
            raise InvalidInput("queue.strategy", strategy, f"must be one of {', '.join(s.value for s in Strategy)}")
        queue.strategy = strategy
    if wrap_up_seconds is not None:
        queue.wrap_up_seconds = _seconds("queue.wrap_up_seconds", wrap_up_seconds, minimum=0)
    if max_wait_seconds is not None:
        queue.max_wait_seconds = _seconds("queue.max_wait_seconds", max_wait_seconds, minimum=1)
    if required_skills is not None:
        queue.required_skills = [
            QueueSkill(skill=get_skill(session, skill), min_level=skill_level("queue_skills.min_level", level))
            for skill, level in required_skills.items()
        ]


def _seconds(field: str, value: int, *, minimum: int) -> int:
    """*value* when it is an integer number of seconds >= *minimum*."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidInput(field, value, f"must be an integer >= {minimum}")
    return value

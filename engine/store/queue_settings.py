"""Per-queue ACD settings (ring timeout, delays, no-answer limit, exit target, escalation) and
the ACD's :class:`~engine.acd.model.QueueConfig` built from a queue's rows.

Every change is validated by building the QueueConfig it would produce; errors name the field.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.acd.model import AgentSkill, EscalationStep, QueueConfig
from engine.store.acd_models import QueueSettings
from engine.store.errors import InvalidInput
from engine.store.models import Queue
from engine.store.queues import get_queue, list_queues

DEFAULT_EXIT_TARGET = "voicemail"
EXIT_TARGETS = ("voicemail", "callback")
"""Exit targets besides ``flow:<name>`` (run that IVR flow) and ``queue:<name>`` (join that queue)."""
EXIT_PREFIXES = ("flow:", "queue:")

_DEFAULTS = {f.name: f.default for f in fields(QueueConfig)}
SETTINGS = (
    "ring_timeout_seconds",
    "no_answer_delay_seconds",
    "busy_delay_seconds",
    "reject_delay_seconds",
    "failed_delay_seconds",
    "max_no_answer",
    "skill_weight_seconds",
    "resume_seconds",
    "announce_seconds",
    "exit_target",
    "exit_keys",
    "record_percent",
    "escalation",
    "callback_attempts",
    "callback_retry_seconds",
    "callback_ring_seconds",
)
"""The settings this module keeps; :func:`defaults` gives each one's value for a queue without a row."""


def defaults() -> dict[str, Any]:
    """Each setting's default (the ACD's, with ``exit_target`` voicemail and no escalation)."""
    out = {name: _DEFAULTS[name] for name in SETTINGS if name not in ("exit_target", "exit_keys", "escalation")}
    return {**out, "exit_target": DEFAULT_EXIT_TARGET, "exit_keys": {}, "escalation": []}


def get_settings(session: Session, queue_name: str) -> dict[str, Any]:
    """Queue *queue_name*'s settings (defaults where no row exists); raises NotFound."""
    queue = get_queue(session, queue_name)
    row = session.get(QueueSettings, queue.id)
    return {name: getattr(row, name) for name in SETTINGS} if row else defaults()


def set_settings(session: Session, queue_name: str, **changes: Any) -> dict[str, Any]:
    """Change the given settings of *queue_name* (others keep their value) and return them all.

    ``escalation`` is a list of steps ``{"after_seconds": s, "min_level": n, "extra_skills":
    {"skill": level}, "overflow_queue": "name"}`` (all but after_seconds optional).
    Raises NotFound, or InvalidInput naming ``queue_settings.<field>``.
    """
    unknown = sorted(changes.keys() - set(SETTINGS))
    if unknown:
        raise InvalidInput("queue_settings", unknown[0], f"is not a setting (have: {', '.join(SETTINGS)})")
    queue = get_queue(session, queue_name)
    values = {**get_settings(session, queue_name), **changes}
    known_queues = {q.name for q in list_queues(session)}
    queue_config(queue, values, known_queues=known_queues)  # validates
    row = session.get(QueueSettings, queue.id)
    if row is None:
        row = QueueSettings(queue_id=queue.id)
        session.add(row)
    for name, value in values.items():
        setattr(row, name, value)
    session.flush()
    return values


def queue_config(queue: Queue, settings: dict[str, Any], *, known_queues: set[str] | None = None) -> QueueConfig:
    """The ACD's settings for *queue* with *settings* (as :func:`get_settings` returns them).

    The queue's first required skill (by name) is the ACD's skill; a queue requiring none uses a
    skill named after itself.  Raises InvalidInput naming the field.
    """
    levels = queue.skill_levels
    skill, level = min(levels.items()) if levels else (queue.name, 1)
    _check_target("queue_settings.exit_target", settings["exit_target"], known_queues)
    keys = settings["exit_keys"]
    if not isinstance(keys, dict):
        raise InvalidInput("queue_settings.exit_keys", keys, "must map a key to an exit target")
    for key, target in keys.items():
        _check_target(f"queue_settings.exit_keys[{key!r}]", target, known_queues)
    escalation = _escalation(settings["escalation"], queue.name, known_queues)
    try:
        return QueueConfig(
            name=queue.name,
            skill=skill,
            min_level=level,
            strategy=queue.strategy,
            wrap_up_seconds=queue.wrap_up_seconds,
            max_wait_seconds=queue.max_wait_seconds,
            escalation=escalation,
            exit_keys=tuple(sorted(keys.items())),
            **{k: v for k, v in settings.items() if k not in ("escalation", "exit_keys")},
        )
    except ValueError as exc:
        field, _, reason = str(exc).partition(".")[2].partition(": ")
        raise InvalidInput(f"queue_settings.{field}", settings.get(field), reason) from None


def _check_target(field: str, target: Any, known_queues: set[str] | None) -> None:
    if not isinstance(target, str) or not (
        target in EXIT_TARGETS or (target.startswith(EXIT_PREFIXES) and target.partition(":")[2])
    ):
        raise InvalidInput(field, target, f"must be one of {', '.join(EXIT_TARGETS)}, flow:NAME or queue:NAME")
    if target.startswith("queue:") and known_queues is not None and target[6:] not in known_queues:
        raise InvalidInput(field, target, "names no queue")


def _escalation(steps: Any, queue: str, known_queues: set[str] | None) -> tuple[EscalationStep, ...]:
    if not isinstance(steps, list):
        raise InvalidInput("queue_settings.escalation", steps, "must be a list of steps")
    out = []
    for i, step in enumerate(steps):
        field = f"queue_settings.escalation[{i}]"
        if not isinstance(step, dict) or not step.keys() <= {
            "after_seconds",
            "min_level",
            "extra_skills",
            "overflow_queue",
        }:
            raise InvalidInput(field, step, "must map after_seconds, min_level, extra_skills, overflow_queue")
        overflow = step.get("overflow_queue")
        if overflow is not None and known_queues is not None and overflow not in known_queues:
            raise InvalidInput(f"{field}.overflow_queue", overflow, "names no queue")
        try:
            extra = tuple(AgentSkill(s, lv) for s, lv in sorted(dict(step.get("extra_skills") or {}).items()))
            out.append(
                EscalationStep(
                    after_seconds=step.get("after_seconds"),
                    min_level=step.get("min_level"),
                    extra_skills=extra,
                    overflow_queue=overflow,
                )
            )
        except (TypeError, ValueError) as exc:
            raise InvalidInput(field, step, str(exc)) from None
    return tuple(out)


def load_queue_configs(session: Session) -> list[QueueConfig]:
    """Every queue's ACD settings, by name."""
    rows = {row.queue_id: row for row in session.scalars(select(QueueSettings))}
    out = []
    for queue in list_queues(session):
        row = rows.get(queue.id)
        settings = {name: getattr(row, name) for name in SETTINGS} if row else defaults()
        out.append(queue_config(queue, settings))
    return out

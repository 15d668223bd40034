"""The skill catalogue: skills agents have and queues require."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.store.errors import Conflict, NotFound
from engine.store.models import AgentSkill, QueueSkill, Skill
from engine.store.validation import non_empty


def create_skill(session: Session, name: str) -> Skill:
    """Add skill *name*; raises InvalidInput for a blank name, Conflict when it exists."""
    if session.scalar(select(Skill).where(Skill.name == non_empty("skill.name", name))) is not None:
        raise Conflict("skill", name, "already exists")
    skill = Skill(name=name)
    session.add(skill)
    session.flush()
    return skill


def get_skill(session: Session, name: str) -> Skill:
    """Skill *name*; raises NotFound."""
    skill = session.scalar(select(Skill).where(Skill.name == name))
    if skill is None:
        raise NotFound("skill", name)
    return skill


def list_skills(session: Session) -> list[Skill]:
    """Every skill, by name."""
    return list(session.scalars(select(Skill).order_by(Skill.name)))


def remove_skill(session: Session, name: str) -> None:
    """Delete skill *name* and every agent's level in it.

    Raises NotFound, or Conflict while a queue still requires the skill.
    """
    skill = get_skill(session, name)
    requirements = session.scalars(select(QueueSkill).where(QueueSkill.skill_id == skill.id)).all()
    if requirements:
        queues = sorted(requirement.queue.name for requirement in requirements)
        raise Conflict("skill", name, f"is required by queue(s) {queues}")
    for agent_skill in session.scalars(select(AgentSkill).where(AgentSkill.skill_id == skill.id)).all():
        agent_skill.agent.skills.remove(agent_skill)
    session.delete(skill)
    session.flush()

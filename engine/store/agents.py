"""Agents and their skill levels."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.esl import dialstring
from engine.store.errors import Conflict, NotFound, found
from engine.store.models import Agent, AgentSkill
from engine.store.skills import get_skill
from engine.store.validation import dial_target, non_empty, skill_level


def _contact(contact: str) -> str:
    return dial_target("agent.contact", non_empty("agent.contact", contact), dialstring.endpoint)


def create_agent(
    session: Session, agent_id: str, *, name: str, contact: str, skills: Mapping[str, int] | None = None
) -> Agent:
    """Add agent *agent_id* ('1001') reachable at dial string *contact* ('user/1001').

    *skills* maps existing skill names to levels 1..10. Raises InvalidInput, NotFound (unknown
    skill) or Conflict (id taken).
    """
    non_empty("agent.id", agent_id)
    if session.get(Agent, agent_id) is not None:
        raise Conflict("agent", agent_id, "already exists")
    agent = Agent(id=agent_id, name=non_empty("agent.name", name), contact=_contact(contact))
    session.add(agent)
    for skill_name, level in (skills or {}).items():
        _set_level(session, agent, skill_name, level)
    session.flush()
    return agent


def get_agent(session: Session, agent_id: str) -> Agent:
    """Agent *agent_id*; raises NotFound."""
    return found(session.get(Agent, agent_id), "agent", agent_id)


def list_agents(session: Session) -> list[Agent]:
    """Every agent, by id."""
    return list(session.scalars(select(Agent).order_by(Agent.id)))


def update_agent(session: Session, agent_id: str, *, name: str | None = None, contact: str | None = None) -> Agent:
    """Change the name and/or contact of agent *agent_id*; raises NotFound or InvalidInput."""
    agent = get_agent(session, agent_id)
    if name is not None:
        agent.name = non_empty("agent.name", name)
    if contact is not None:
        agent.contact = _contact(contact)
    session.flush()
    return agent


def set_agent_skill(session: Session, agent_id: str, skill: str, level: int) -> AgentSkill:
    """Give agent *agent_id* skill *skill* at *level* (1..10), replacing any previous level."""
    agent_skill = _set_level(session, get_agent(session, agent_id), skill, level)
    session.flush()
    return agent_skill


def remove_agent_skill(session: Session, agent_id: str, skill: str) -> None:
    """Take skill *skill* away from agent *agent_id*; raises NotFound when the agent lacks it."""
    agent = get_agent(session, agent_id)
    for agent_skill in agent.skills:
        if agent_skill.skill.name == skill:
            agent.skills.remove(agent_skill)
            session.flush()
            return
    raise NotFound("agent skill", (agent_id, skill))


def remove_agent(session: Session, agent_id: str) -> None:
    """Delete agent *agent_id* and its skill levels; its call history and state log stay."""
    session.delete(get_agent(session, agent_id))
    session.flush()


def _set_level(session: Session, agent: Agent, skill_name: str, level: int) -> AgentSkill:
    """Create or update *agent*'s level in skill *skill_name*."""
    level = skill_level("agent_skills.level", level)
    skill = get_skill(session, skill_name)
    for agent_skill in agent.skills:
        if agent_skill.skill_id == skill.id:
            agent_skill.level = level
            return agent_skill
    agent_skill = AgentSkill(skill=skill, level=level)
    agent.skills.append(agent_skill)
    return agent_skill

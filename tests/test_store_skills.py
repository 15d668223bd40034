"""Skill catalogue repository."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from engine.store.agents import create_agent, get_agent
from engine.store.errors import Conflict, InvalidInput, NotFound
from engine.store.queues import create_queue
from engine.store.skills import create_skill, get_skill, list_skills, remove_skill

pytestmark = pytest.mark.db


def test_skills_are_created_listed_and_removed(session: Session) -> None:
    for name in ("sales", "english", "billing"):
        create_skill(session, name)
    assert [skill.name for skill in list_skills(session)] == ["billing", "english", "sales"]
    remove_skill(session, "english")
    session.commit()
    assert [skill.name for skill in list_skills(session)] == ["billing", "sales"]
    with pytest.raises(NotFound, match="skill 'english' not found"):
        get_skill(session, "english")


def test_skill_names_are_unique_and_not_blank(session: Session) -> None:
    create_skill(session, "sales")
    with pytest.raises(Conflict):
        create_skill(session, "sales")
    with pytest.raises(InvalidInput) as caught:
        create_skill(session, "")
    assert caught.value.field == "skill.name"


def test_removing_a_skill_removes_agent_levels(session: Session) -> None:
    create_skill(session, "sales")
    create_skill(session, "english")
    create_agent(session, "1001", name="Ann", contact="user/1001", skills={"sales": 7, "english": 3})
    remove_skill(session, "sales")
    session.commit()
    assert get_agent(session, "1001").skill_levels == {"english": 3}
    session.expunge_all()
    assert get_agent(session, "1001").skill_levels == {"english": 3}


def test_a_skill_required_by_a_queue_cannot_be_removed(session: Session) -> None:
    create_skill(session, "sales")
    create_queue(session, "sales-queue", required_skills={"sales": 2})
    with pytest.raises(Conflict, match="sales-queue"):
        remove_skill(session, "sales")

"""Agent repository: CRUD and skill levels."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from engine.store.agents import (
    create_agent,
    get_agent,
    list_agents,
    remove_agent,
    remove_agent_skill,
    set_agent_skill,
    update_agent,
)
from engine.store.errors import Conflict, InvalidInput, NotFound
from engine.store.skills import create_skill

pytestmark = pytest.mark.db


@pytest.fixture
def skills(session: Session) -> None:
    for name in ("sales", "english", "billing"):
        create_skill(session, name)


@pytest.mark.usefixtures("skills")
def test_agent_is_created_with_skill_levels(session: Session) -> None:
    create_agent(session, "1001", name="Ann", contact="user/1001", skills={"sales": 7, "english": 3})
    session.commit()
    session.expunge_all()
    agent = get_agent(session, "1001")
    assert (agent.name, agent.contact) == ("Ann", "user/1001")
    assert agent.skill_levels == {"sales": 7, "english": 3}


@pytest.mark.usefixtures("skills")
def test_agents_are_listed_updated_and_removed(session: Session) -> None:
    create_agent(session, "1002", name="Bob", contact="user/1002")
    create_agent(session, "1001", name="Ann", contact="user/1001", skills={"sales": 5})
    update_agent(session, "1002", contact="sofia/gateway/pstn/13800138000")
    update_agent(session, "1001", name="Anne")
    assert [(agent.id, agent.name, agent.contact) for agent in list_agents(session)] == [
        ("1001", "Anne", "user/1001"),
        ("1002", "Bob", "sofia/gateway/pstn/13800138000"),
    ]
    remove_agent(session, "1001")
    session.commit()
    assert [agent.id for agent in list_agents(session)] == ["1002"]
    with pytest.raises(NotFound, match="agent '1001' not found"):
        get_agent(session, "1001")


@pytest.mark.usefixtures("skills")
def test_skill_levels_are_added_updated_and_removed(session: Session) -> None:
    create_agent(session, "1001", name="Ann", contact="user/1001", skills={"sales": 5})
    set_agent_skill(session, "1001", "sales", 9)
    set_agent_skill(session, "1001", "billing", 1)
    remove_agent_skill(session, "1001", "sales")
    session.commit()
    session.expunge_all()
    assert get_agent(session, "1001").skill_levels == {"billing": 1}
    with pytest.raises(NotFound):
        remove_agent_skill(session, "1001", "sales")


@pytest.mark.usefixtures("skills")
@pytest.mark.parametrize("level", [0, 11, -1, True, 2.5])
def test_level_outside_1_to_10_names_the_field(session: Session, level: object) -> None:
    create_agent(session, "1001", name="Ann", contact="user/1001")
    with pytest.raises(InvalidInput, match=r"^agent_skills\.level: ") as caught:
        set_agent_skill(session, "1001", "sales", level)  # type: ignore[arg-type]
    assert caught.value.field == "agent_skills.level"
    with pytest.raises(InvalidInput):
        create_agent(session, "1002", name="Bob", contact="user/1002", skills={"sales": level})  # type: ignore[dict-item]


@pytest.mark.usefixtures("skills")
def test_invalid_agents_are_rejected(session: Session) -> None:
    create_agent(session, "1001", name="Ann", contact="user/1001")
    with pytest.raises(Conflict):
        create_agent(session, "1001", name="Again", contact="user/1001")
    with pytest.raises(NotFound, match="skill 'cooking'"):
        create_agent(session, "1003", name="Cat", contact="user/1003", skills={"cooking": 3})
    with pytest.raises(InvalidInput) as caught:
        update_agent(session, "1001", contact=" ")
    assert caught.value.field == "agent.contact"
    with pytest.raises(NotFound):
        update_agent(session, "9999", name="Nobody")

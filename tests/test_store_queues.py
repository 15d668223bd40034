"""Queue repository: CRUD with required skills and minimum levels."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from engine.store.errors import Conflict, InvalidInput, NotFound
from engine.store.queues import create_queue, get_queue, list_queues, remove_queue, update_queue
from engine.store.skills import create_skill

pytestmark = pytest.mark.db


@pytest.fixture
def skills(session: Session) -> None:
    for name in ("sales", "english", "billing"):
        create_skill(session, name)


@pytest.mark.usefixtures("skills")
def test_queue_is_created_with_required_skills(session: Session) -> None:
    create_queue(
        session,
        "sales",
        strategy="round_robin",
        wrap_up_seconds=15,
        max_wait_seconds=120,
        required_skills={"sales": 3, "english": 5},
    )
    session.commit()
    session.expunge_all()
    queue = get_queue(session, "sales")
    assert (queue.strategy, queue.wrap_up_seconds, queue.max_wait_seconds) == ("round_robin", 15, 120)
    assert queue.skill_levels == {"sales": 3, "english": 5}


@pytest.mark.usefixtures("skills")
def test_defaults(session: Session) -> None:
    queue = create_queue(session, "support")
    assert (queue.strategy, queue.wrap_up_seconds, queue.max_wait_seconds) == ("longest_idle", 0, 300)
    assert queue.skill_levels == {}


@pytest.mark.usefixtures("skills")
def test_queue_is_updated_listed_and_removed(session: Session) -> None:
    create_queue(session, "sales", required_skills={"sales": 3})
    create_queue(session, "billing", required_skills={"billing": 2})
    update_queue(session, "sales", wrap_up_seconds=30, required_skills={"sales": 6, "english": 2})
    session.commit()
    update_queue(session, "sales", required_skills={"sales": 4})
    session.commit()
    session.expunge_all()
    sales = get_queue(session, "sales")
    assert (sales.wrap_up_seconds, sales.skill_levels) == (30, {"sales": 4})
    assert [queue.name for queue in list_queues(session)] == ["billing", "sales"]
    remove_queue(session, "billing")
    session.commit()
    assert [queue.name for queue in list_queues(session)] == ["sales"]
    with pytest.raises(NotFound):
        get_queue(session, "billing")


@pytest.mark.usefixtures("skills")
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"required_skills": {"sales": 0}}, "queue_skills.min_level"),
        ({"required_skills": {"sales": 11}}, "queue_skills.min_level"),
        ({"wrap_up_seconds": -1}, "queue.wrap_up_seconds"),
        ({"max_wait_seconds": 0}, "queue.max_wait_seconds"),
        ({"strategy": ""}, "queue.strategy"),
    ],
)
def test_invalid_settings_name_the_field(session: Session, kwargs: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        create_queue(session, "sales", **kwargs)
    assert caught.value.field == field


@pytest.mark.usefixtures("skills")
def test_duplicate_queue_and_unknown_skill_are_rejected(session: Session) -> None:
    create_queue(session, "sales")
    with pytest.raises(Conflict):
        create_queue(session, "sales")
    with pytest.raises(NotFound, match="skill 'cooking'"):
        update_queue(session, "sales", required_skills={"cooking": 2})


def test_strategy_must_be_one_the_acd_knows(session: Session) -> None:
    with pytest.raises(InvalidInput, match=r"queue\.strategy: 'longest-idle' must be one of longest_idle"):
        create_queue(session, "q", strategy="longest-idle")

"""Queue settings repository: defaults, partial updates, validation naming the field, ACD configs."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from engine.acd.model import AgentSkill, EscalationStep, QueueConfig
from engine.store.errors import InvalidInput, NotFound
from engine.store.queue_settings import defaults, get_settings, load_queue_configs, set_settings
from engine.store.queues import create_queue, remove_queue
from engine.store.skills import create_skill

pytestmark = pytest.mark.db


@pytest.fixture(autouse=True)
def _queues(session: Session) -> None:
    for name in ("sales", "billing"):
        create_skill(session, name)
    create_queue(session, "sales", strategy="top_down", wrap_up_seconds=5, required_skills={"sales": 3})
    create_queue(session, "billing", required_skills={"billing": 1})


def test_a_queue_without_settings_has_the_acd_defaults(session: Session) -> None:
    assert get_settings(session, "sales") == defaults()
    assert defaults()["ring_timeout_seconds"] == QueueConfig("q", "s").ring_timeout_seconds
    assert defaults()["exit_target"] == "voicemail"


def test_settings_are_changed_partially_persisted_and_become_the_acd_config(session: Session) -> None:
    steps = [
        {"after_seconds": 30, "min_level": 1, "extra_skills": {"billing": 4}},
        {"after_seconds": 60, "overflow_queue": "billing"},
    ]
    set_settings(session, "sales", ring_timeout_seconds=12, max_no_answer=1, escalation=steps)
    set_settings(session, "sales", exit_target="flow:main")
    session.commit()
    session.expunge_all()
    assert get_settings(session, "sales")["ring_timeout_seconds"] == 12
    configs = {c.name: c for c in load_queue_configs(session)}
    assert configs["sales"] == QueueConfig(
        name="sales",
        skill="sales",
        min_level=3,
        strategy="top_down",
        wrap_up_seconds=5,
        ring_timeout_seconds=12,
        max_no_answer=1,
        max_wait_seconds=300,
        exit_target="flow:main",
        escalation=(
            EscalationStep(30, min_level=1, extra_skills=(AgentSkill("billing", 4),)),
            EscalationStep(60, overflow_queue="billing"),
        ),
    )
    assert configs["billing"].ring_timeout_seconds == 20


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ring_timeout_seconds": 0}, "queue_settings.ring_timeout_seconds"),
        ({"busy_delay_seconds": -1}, "queue_settings.busy_delay_seconds"),
        ({"max_no_answer": 1.5}, "queue_settings.max_no_answer"),
        ({"exit_target": "elsewhere"}, "queue_settings.exit_target"),
        ({"exit_target": "queue:nope"}, "queue_settings.exit_target"),
        (
            {"escalation": [{"after_seconds": 5, "overflow_queue": "nope"}]},
            "queue_settings.escalation[0].overflow_queue",
        ),
        ({"escalation": [{"after_seconds": 5}]}, "queue_settings.escalation[0]"),
        ({"escalation": [{"after_seconds": 5, "colour": "red"}]}, "queue_settings.escalation[0]"),
        ({"escalation": {"after_seconds": 5}}, "queue_settings.escalation"),
        ({"volume": 11}, "queue_settings"),
        ({"exit_keys": {"1": "nowhere"}}, "queue_settings.exit_keys['1']"),
        ({"exit_keys": {"11": "callback"}}, "queue_settings.exit_keys"),
        ({"announce_seconds": -1}, "queue_settings.announce_seconds"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(session: Session, changes: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        set_settings(session, "sales", **changes)
    assert caught.value.field == field
    assert get_settings(session, "sales") == defaults()


def test_settings_go_with_their_queue(session: Session) -> None:
    set_settings(session, "billing", max_no_answer=0)
    session.commit()
    remove_queue(session, "billing")
    session.commit()
    with pytest.raises(NotFound):
        get_settings(session, "billing")
    assert [c.name for c in load_queue_configs(session)] == ["sales"]

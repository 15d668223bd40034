"""Bulk provisioning through files: import is all-or-nothing and idempotent, export round-trips."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.store import agents as agent_store
from engine.store import queues as queue_store
from engine.store import skills as skill_store
from engine.store.models import Agent, Queue, Skill
from engine.store.provisioning import ProvisioningRefused, export_file, import_file

pytestmark = pytest.mark.db

SKILLS_CSV = "name\nsupport\nbilling\n中文\n"
QUEUES_CSV = (
    "name,strategy,wrap_up_seconds,max_wait_seconds,skills\n"
    "support,longest_idle,15,300,support=2\n"
    "billing,most_skilled,0,120,billing=1;中文=3\n"
)
AGENTS_YAML = """\
agents:
  - id: 1001
    name: 王芳
    contact: user/1001
    skills: {support: 7, 中文: 9}
  - id: "1002"
    name: Ada
    skills: {billing: 3}
  - id: "1003"
    name: "Grace, Hopper"
    contact: sofia/gateway/trunk/+442079460000
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def provisioned(session: Session, tmp_path: Path) -> Session:
    """Skills, queues and agents imported from files, in that order, and committed."""
    import_file(session, "skill", _write(tmp_path, "skills.csv", SKILLS_CSV))
    import_file(session, "queue", _write(tmp_path, "queues.csv", QUEUES_CSV))
    import_file(session, "agent", _write(tmp_path, "agents.yaml", AGENTS_YAML))
    session.commit()
    return session


def test_an_import_creates_what_the_file_says(provisioned: Session) -> None:
    grace = agent_store.get_agent(provisioned, "1001")
    assert (grace.name, grace.contact, grace.skill_levels) == ("王芳", "user/1001", {"support": 7, "中文": 9})
    ada = agent_store.get_agent(provisioned, "1002")
    assert (ada.contact, ada.skill_levels) == ("user/1002", {"billing": 3})  # `agent add`'s default contact
    assert agent_store.get_agent(provisioned, "1003").name == "Grace, Hopper"
    billing = queue_store.get_queue(provisioned, "billing")
    assert (billing.strategy, billing.wrap_up_seconds, billing.max_wait_seconds) == ("most_skilled", 0, 120)
    assert billing.skill_levels == {"billing": 1, "中文": 3}


@pytest.mark.parametrize("suffix", ["csv", "yaml"])
@pytest.mark.parametrize("kind", ["agent", "skill", "queue"])
def test_export_then_import_changes_nothing_and_exports_the_same_bytes(
    provisioned: Session, tmp_path: Path, kind: str, suffix: str
) -> None:
    first = tmp_path / f"first.{suffix}"
    export_file(provisioned, kind, first)
    report = import_file(provisioned, kind, first)
    assert (report.created, report.updated) == ([], [])
    assert len(report.unchanged) == {"agent": 3, "skill": 3, "queue": 2}[kind]
    second = tmp_path / f"second.{suffix}"
    export_file(provisioned, kind, second)
    assert second.read_bytes() == first.read_bytes()


def test_an_export_is_loaded_into_an_empty_database_as_the_same_records(provisioned: Session, tmp_path: Path) -> None:
    for kind in ("skill", "queue", "agent"):
        export_file(provisioned, kind, tmp_path / f"{kind}.csv")
    for agent in agent_store.list_agents(provisioned):
        agent_store.remove_agent(provisioned, agent.id)
    for queue in queue_store.list_queues(provisioned):
        queue_store.remove_queue(provisioned, queue.name)
    for skill in skill_store.list_skills(provisioned):
        skill_store.remove_skill(provisioned, skill.name)
    provisioned.commit()
    provisioned.expunge_all()
    assert (_count(provisioned, Agent), _count(provisioned, Queue), _count(provisioned, Skill)) == (0, 0, 0)
    for kind in ("skill", "queue", "agent"):
        report = import_file(provisioned, kind, tmp_path / f"{kind}.csv")
        assert report.updated == [] and report.unchanged == []
    provisioned.commit()
    assert agent_store.get_agent(provisioned, "1001").skill_levels == {"support": 7, "中文": 9}
    assert queue_store.get_queue(provisioned, "support").wrap_up_seconds == 15


def test_running_the_same_import_twice_changes_nothing_the_second_time(provisioned: Session, tmp_path: Path) -> None:
    report = import_file(provisioned, "agent", _write(tmp_path, "again.yaml", AGENTS_YAML))
    assert report.created == [] and report.updated == []
    assert [key for _, key in report.unchanged] == ["1001", "1002", "1003"]
    assert "0 created, 0 updated, 3 unchanged agents" in report.lines()[-1]


def test_a_changed_record_is_updated_and_reported_with_its_line_and_fields(
    provisioned: Session, tmp_path: Path
) -> None:
    changed = AGENTS_YAML.replace("name: Ada", "name: Ada Lovelace").replace("{billing: 3}", "{support: 4}")
    report = import_file(provisioned, "agent", _write(tmp_path, "changed.yaml", changed))
    assert [(line, key) for line, key, _ in report.updated] == [(6, "1002")]
    what = report.updated[0][2]
    assert "'Ada' -> 'Ada Lovelace'" in what and "{'billing': 3} -> {'support': 4}" in what
    ada = agent_store.get_agent(provisioned, "1002")
    assert (ada.name, ada.skill_levels) == ("Ada Lovelace", {"support": 4})  # skills given: the whole set


def test_fields_a_record_leaves_out_keep_their_stored_values(provisioned: Session, tmp_path: Path) -> None:
    report = import_file(provisioned, "agent", _write(tmp_path, "names.csv", "id,name\n1001,Fang Wang\n"))
    assert len(report.updated) == 1
    grace = agent_store.get_agent(provisioned, "1001")
    assert (grace.name, grace.contact, grace.skill_levels) == ("Fang Wang", "user/1001", {"support": 7, "中文": 9})
    report = import_file(provisioned, "queue", _write(tmp_path, "q.csv", "name,max_wait_seconds\nbilling,90\n"))
    billing = queue_store.get_queue(provisioned, "billing")
    assert (billing.max_wait_seconds, billing.strategy, billing.skill_levels["中文"]) == (90, "most_skilled", 3)


def test_an_empty_skills_cell_takes_every_skill_away(provisioned: Session, tmp_path: Path) -> None:
    import_file(provisioned, "agent", _write(tmp_path, "none.csv", "id,skills\n1001,\n"))
    assert agent_store.get_agent(provisioned, "1001").skill_levels == {}


def test_one_bad_row_among_good_ones_changes_nothing_and_names_line_and_field(session: Session, tmp_path: Path) -> None:
    import_file(session, "skill", _write(tmp_path, "skills.csv", SKILLS_CSV))
    session.commit()
    rows = "".join(f"{2000 + i},Agent {i},user/{2000 + i},support=5\n" for i in range(50))
    bad = "id,name,contact,skills\n" + rows + "2050,Mallory,user/2050&park(),support=5\n"
    with pytest.raises(ProvisioningRefused) as refused:
        import_file(session, "agent", _write(tmp_path, "agents.csv", bad))
    session.rollback()
    assert [(p.line, p.field) for p in refused.value.problems] == [(52, "contact")]
    assert "agents.csv:52: contact: 'user/2050&park()' is not an endpoint" in str(refused.value)
    assert _count(session, Agent) == 0


def test_every_bad_row_is_reported_at_once(session: Session, tmp_path: Path) -> None:
    import_file(session, "skill", _write(tmp_path, "skills.csv", SKILLS_CSV))
    text = """\
- id: "1001"
  contact: user/1001
  skills: {support: 11, sales: 2}
- id: "1002"
  name: "   "
- name: nobody
- id: "1001"
- id: "100 1"
- id: "123456789012345678901234567890123"
- id: "1003"
  shoe_size: 44
"""
    with pytest.raises(ProvisioningRefused) as refused:
        import_file(session, "agent", _write(tmp_path, "agents.yml", text))
    got = [(p.line, p.field) for p in refused.value.problems]
    assert got == [
        (3, "skills.sales"),
        (3, "skills.support"),
        (5, "name"),
        (6, "id"),
        (7, "id"),
        (8, "id"),
        (9, "id"),
        (11, "shoe_size"),
    ]
    messages = {(p.line, p.field): p.message for p in refused.value.problems}
    assert "no such skill" in messages[(3, "skills.sales")]
    assert "from 1 to 10" in messages[(3, "skills.support")]
    assert "also on line 1" in messages[(7, "id")]
    assert "longer than 32" in messages[(9, "id")]
    assert "unknown key" in messages[(11, "shoe_size")]


def test_queue_rules_are_the_store_s_own(session: Session, tmp_path: Path) -> None:
    import_file(session, "skill", _write(tmp_path, "skills.csv", SKILLS_CSV))
    text = (
        "name,strategy,wrap_up_seconds,max_wait_seconds,skills\n"
        "a,longest-idle,10,300,\n"
        "b,longest_idle,ten,0,support=0\n"
    )
    with pytest.raises(ProvisioningRefused) as refused:
        import_file(session, "queue", _write(tmp_path, "queues.csv", text))
    assert [(p.line, p.field) for p in refused.value.problems] == [
        (2, "strategy"),
        (3, "max_wait_seconds"),
        (3, "skills.support"),
        (3, "wrap_up_seconds"),
    ]
    assert _count(session, Queue) == 0


def test_a_new_queue_without_a_wrap_up_gets_queue_add_s_default(session: Session, tmp_path: Path) -> None:
    import_file(session, "queue", _write(tmp_path, "q.yaml", "- name: vip\n"))
    queue = queue_store.get_queue(session, "vip")
    assert (queue.strategy, queue.wrap_up_seconds, queue.max_wait_seconds) == ("longest_idle", 10, 300)


def test_a_skill_name_that_could_not_round_trip_through_csv_is_refused(session: Session, tmp_path: Path) -> None:
    with pytest.raises(ProvisioningRefused) as refused:
        import_file(session, "skill", _write(tmp_path, "s.yaml", "skills:\n  - name: a=b\n  - name: ok\n"))
    assert [(p.line, p.field) for p in refused.value.problems] == [(2, "name")]
    assert _count(session, Skill) == 0

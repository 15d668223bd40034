"""Bulk provisioning: import agents, skills and queues from a CSV or YAML file, and export them back.

An import is all or nothing and idempotent. Every record is checked first, with the validators the
store's own functions use (:mod:`engine.store.validation`, the dial grammar, the queue rules); a file
with any bad record changes nothing and :class:`ProvisioningRefused` names the line and field of every
problem. Then each record is compared with the database: new ones are created, those that differ are
updated, the rest are reported unchanged, all in the caller's one transaction. Records not in the
file are left alone (an import never deletes). A field a record leaves out keeps its stored value
(or, for a new record, the default ``hotline agent add`` / ``queue add`` would use); ``skills``, when
given, is the complete set of the record's skill levels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from engine.acd.model import Strategy
from engine.esl import dialstring
from engine.store import agents as agent_store
from engine.store import queues as queue_store
from engine.store import skills as skill_store
from engine.store.errors import InvalidInput
from engine.store.models import Agent, AgentSkill, Queue, Skill
from engine.store.provisioning_files import (
    COLUMNS,
    PLURAL,
    ProvisioningRefused,
    Record,
    RowProblem,
    read_records,
    write_records,
)
from engine.store.validation import dial_target, non_empty, skill_level

__all__ = ["ImportReport", "ProvisioningRefused", "export_file", "export_rows", "import_file", "import_records"]

KINDS = tuple(COLUMNS)
LENGTHS = {"agent.id": 32, "agent.name": 200, "agent.contact": 255, "skill.name": 64, "queue.name": 64}
"""Column widths of the schema: checked here so PostgreSQL never refuses what SQLite took."""
QUEUE_ADD_WRAP_UP_SECONDS = 10
"""A new queue's wrap-up when the file gives none: what ``hotline queue add`` uses."""


@dataclass
class ImportReport:
    """What one import did, record by record: ``(line, key, what changed)``."""

    kind: str
    file: str
    created: list[tuple[int, str, str]] = field(default_factory=list)
    updated: list[tuple[int, str, str]] = field(default_factory=list)
    unchanged: list[tuple[int, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        """One line per created or updated record, then the totals."""
        out = [f"{self.file}:{line}: {self.kind} {key} created" for line, key, _ in self.created]
        out += [f"{self.file}:{line}: {self.kind} {key} updated: {what}" for line, key, what in self.updated]
        out.append(
            f"{self.file}: {len(self.created)} created, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged {PLURAL[self.kind]}"
        )
        return out


class _Checker:
    """Field checks of one record; each failure becomes a RowProblem and the value None."""

    def __init__(self, kind: str, record: Record, problems: list[RowProblem]) -> None:
        self.kind, self.record, self.problems = kind, record, problems

    def check(self, name: str, fn: Callable[[Any], Any]) -> Any:
        value = self.record.values.get(name)
        if value is None:
            return None
        try:
            return fn(value)
        except InvalidInput as exc:
            self.problems.append(RowProblem(self.record.line_of(name), name, _message(exc)))
            return None

    def text(self, name: str, extra: Callable[[str], str] | None = None) -> Callable[[Any], str]:
        qualified = f"{self.kind}.{name}"

        def parse(value: Any) -> str:
            if isinstance(value, int):
                value = str(value)  # YAML's unquoted 1001
            non_empty(qualified, value)
            limit = LENGTHS.get(qualified)
            if limit is not None and len(value) > limit:
                raise InvalidInput(qualified, value, f"is longer than {limit} characters")
            return extra(value) if extra else value

        return parse

    def levels(self, known_skills: set[str]) -> dict[str, int] | None:
        raw = self.record.values.get("skills")
        if raw is None:
            return None
        out: dict[str, int] = {}
        for name, level in raw.items():
            at, where = self.record.line_of("skills"), f"skills.{name}"
            value = _integer(level)
            try:
                out[str(name)] = skill_level(where, value)  # type: ignore[arg-type]
            except InvalidInput as exc:
                self.problems.append(RowProblem(at, where, f"{level!r} {exc.reason}"))
            if str(name) not in known_skills:
                self.problems.append(RowProblem(at, where, "no such skill (add it first: hotline skill import)"))
        return out


def _message(exc: InvalidInput) -> str:
    """The validator's reason with the value in front (once: the dial grammar's reason already names it)."""
    shown = repr(exc.value)
    return exc.reason if exc.reason.startswith(shown) else f"{shown} {exc.reason}"


def _integer(value: Any) -> Any:
    """A CSV cell's digits as an int; anything else unchanged (the validator then names it)."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


def _seconds(field_name: str, minimum: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        return queue_store._seconds(field_name, _integer(value), minimum=minimum)

    return parse


def _strategy(value: Any) -> str:
    if value not in {s.value for s in Strategy}:
        raise InvalidInput("queue.strategy", value, f"must be one of {', '.join(s.value for s in Strategy)}")
    return value


def _skill_name(value: str) -> str:
    if value != value.strip() or "=" in value or ";" in value:
        raise InvalidInput("skill.name", value, "must not contain '=' or ';' or start or end with a space")
    return value


def _checked(kind: str, records: list[Record], known_skills: set[str]) -> tuple[list[tuple[Record, dict]], list]:
    """Each record's checked values (only the fields it gives), and every problem found."""
    problems: list[RowProblem] = []
    out = []
    first: dict[str, int] = {}
    key_name = COLUMNS[kind][0]
    for record in records:
        c = _Checker(kind, record, problems)
        before = len(problems)
        if kind == "agent":
            values = {
                "id": c.check("id", c.text("id", lambda v: dial_target("agent.id", v, dialstring.extension))),
                "name": c.check("name", c.text("name")),
                "contact": c.check("contact", c.text("contact", agent_store._contact)),
                "skills": c.levels(known_skills),
            }
        elif kind == "skill":
            values = {"name": c.check("name", c.text("name", _skill_name))}
        else:
            values = {
                "name": c.check("name", c.text("name", lambda v: dial_target("queue.name", v, dialstring.extension))),
                "strategy": c.check("strategy", _strategy),
                "wrap_up_seconds": c.check("wrap_up_seconds", _seconds("queue.wrap_up_seconds", 0)),
                "max_wait_seconds": c.check("max_wait_seconds", _seconds("queue.max_wait_seconds", 1)),
                "skills": c.levels(known_skills),
            }
        key = values[key_name]
        if key_name not in record.values:
            problems.append(RowProblem(record.line, key_name, "missing: every record needs one"))
        elif key is not None and key in first:
            problems.append(RowProblem(record.line, key_name, f"{key!r} is also on line {first[key]}"))
        elif key is not None:
            first[key] = record.line
        if len(problems) == before:
            out.append((record, {k: v for k, v in values.items() if v is not None}))
    return out, problems


def import_file(session: Session, kind: str, path: str | Path) -> ImportReport:
    """Import the agents, skills or queues (``kind``) of one CSV/YAML file; see the module docstring.

    Raises ProvisioningRefused (nothing changed) naming every bad line and field.
    """
    records, problems = read_records(path, kind)
    return import_records(session, kind, records, str(path), problems)


def import_records(
    session: Session, kind: str, records: list[Record], file: str, problems: Sequence[RowProblem] = ()
) -> ImportReport:
    """Check every record, then create or update them in ``session``'s transaction (flushed, not committed).

    ``problems``: those found reading the file, reported with the rest; any problem changes nothing.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    known = {s.name for s in skill_store.list_skills(session)}
    checked, found = _checked(kind, records, known)
    problems = [*problems, *found]
    if problems:
        raise ProvisioningRefused(file, problems)
    report = ImportReport(kind, file)
    apply = {"agent": _apply_agent, "skill": _apply_skill, "queue": _apply_queue}[kind]
    stored = _Stored.load(session, kind)
    for record, values in checked:
        apply(session, stored, record, values, report)
    session.flush()
    return report


@dataclass
class _Stored:
    """What the database holds of one kind, by key (skill levels loaded in the same few queries), and the
    skill catalogue: read once, so a record costs no look-up and the whole file is one flush."""

    records: dict[str, Any]
    skills: dict[str, Skill]

    @classmethod
    def load(cls, session: Session, kind: str) -> _Stored:
        skills = {s.name: s for s in skill_store.list_skills(session)}
        if kind == "agent":
            records: dict[str, Any] = {
                a.id: a for a in session.scalars(select(Agent).options(selectinload(Agent.skills)))
            }
        elif kind == "queue":
            records = {q.name: q for q in session.scalars(select(Queue).options(selectinload(Queue.required_skills)))}
        else:
            records = dict(skills)
        return cls(records, skills)


def _changes(current: dict[str, Any], wanted: dict[str, Any]) -> str:
    """``field: old -> new`` for each field that differs; empty when nothing does."""
    return ", ".join(f"{k}: {current[k]!r} -> {v!r}" for k, v in wanted.items() if current[k] != v)


def _apply_skill(session: Session, stored: _Stored, record: Record, values: dict, report: ImportReport) -> None:
    name = values["name"]
    if name in stored.records:
        report.unchanged.append((record.line, name))
        return
    stored.records[name] = skill_store.create_skill(session, name)
    report.created.append((record.line, name, ""))


def _apply_agent(session: Session, stored: _Stored, record: Record, values: dict, report: ImportReport) -> None:
    """Create or update one agent. Its values passed create_agent's / update_agent's own checks in
    :func:`_checked`; they are set here directly so 1,000 agents are one flush, not 1,000 flushes
    and 3,000 look-ups (bench/provisioning.py)."""
    agent_id = values.pop("id")
    agent = stored.records.get(agent_id)
    if agent is None:
        agent = Agent(
            id=agent_id,
            name=values.get("name", agent_id),
            contact=values.get("contact", f"user/{agent_id}"),
            skills=[AgentSkill(skill=stored.skills[k], level=v) for k, v in values.get("skills", {}).items()],
        )
        session.add(agent)
        stored.records[agent_id] = agent
        report.created.append((record.line, agent_id, ""))
        return
    what = _changes({"name": agent.name, "contact": agent.contact, "skills": agent.skill_levels}, values)
    if not what:
        report.unchanged.append((record.line, agent_id))
        return
    agent.name = values.get("name", agent.name)
    agent.contact = values.get("contact", agent.contact)
    wanted = values.get("skills")
    if wanted is not None:
        agent.skills = [link for link in agent.skills if link.skill.name in wanted]  # the rest are deleted
        have = {link.skill.name: link for link in agent.skills}
        for skill, level in wanted.items():
            if skill in have:
                have[skill].level = level
            else:
                agent.skills.append(AgentSkill(skill=stored.skills[skill], level=level))
    report.updated.append((record.line, agent_id, what))


def _apply_queue(session: Session, stored: _Stored, record: Record, values: dict, report: ImportReport) -> None:
    name = values.pop("name")
    queue = stored.records.get(name)
    settings = {k: v for k, v in values.items() if k != "skills"}
    if queue is None:
        settings.setdefault("wrap_up_seconds", QUEUE_ADD_WRAP_UP_SECONDS)
        queue_store.create_queue(session, name, **settings, required_skills=values.get("skills", {}))
        report.created.append((record.line, name, ""))
        return
    current = {
        "strategy": queue.strategy,
        "wrap_up_seconds": queue.wrap_up_seconds,
        "max_wait_seconds": queue.max_wait_seconds,
        "skills": queue.skill_levels,
    }
    what = _changes(current, values)
    if not what:
        report.unchanged.append((record.line, name))
        return
    queue_store.update_queue(session, name, **settings, required_skills=values.get("skills"))
    report.updated.append((record.line, name, what))


def export_rows(session: Session, kind: str) -> list[dict[str, Any]]:
    """Every stored agent, skill or queue as a record of :data:`COLUMNS` (skills sorted by name)."""
    if kind == "skill":
        return [{"name": s.name} for s in skill_store.list_skills(session)]
    if kind == "agent":
        agents = session.scalars(select(Agent).options(selectinload(Agent.skills)).order_by(Agent.id))
        return [
            {"id": a.id, "name": a.name, "contact": a.contact, "skills": dict(sorted(a.skill_levels.items()))}
            for a in agents
        ]
    queues = session.scalars(select(Queue).options(selectinload(Queue.required_skills)).order_by(Queue.name))
    return [
        {
            "name": q.name,
            "strategy": q.strategy,
            "wrap_up_seconds": q.wrap_up_seconds,
            "max_wait_seconds": q.max_wait_seconds,
            "skills": dict(sorted(q.skill_levels.items())),
        }
        for q in queues
    ]


def export_file(session: Session, kind: str, path: str | Path) -> int:
    """Write every stored record of ``kind`` to ``path`` (CSV or YAML by extension); returns how many."""
    return write_records(path, kind, export_rows(session, kind))

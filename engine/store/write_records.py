"""The write records the engine's hot path hands to the write queue (engine/store/writer.py).

A write record is a plain frozen dataclass of strings, numbers and aware datetimes: no ORM object,
no session, nothing tied to a thread. It crosses from the event loop to the writer's thread as is,
and to the journal file as one JSON line (pydantic encodes and validates it: a line read back from
the journal is checked field by field like any input). :func:`apply` turns one record into rows in
the writer's transaction, through the same store functions (and their checks) the engine used before.

Records are idempotent where the data has a key: a call whose CDR is already stored (a journal
replayed after a crash between the commit and the journal's offset) is skipped, with its segments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from engine.store import agent_states, calls, customers, recordings, segments, surveys
from engine.store.calls import CallRecord
from engine.store.models import Call, Customer, Interaction
from engine.store.segment_models import CallSegment
from engine.store.segments import SegmentRecord


@dataclass(frozen=True, kw_only=True)
class AgentStateWrite:
    """Agent ``agent_id`` entered ``state`` at ``at`` (when the ACD decided it, not when it is written)."""

    kind: Literal["agent_state"] = "agent_state"
    agent_id: str
    state: str
    reason: str | None = None
    at: datetime


@dataclass(frozen=True, kw_only=True)
class CallWrite:
    """A finished call: its CDR, its interaction and its segments, in one transaction.

    ``customer_number`` (with ``region``) is looked up in the writer's transaction when
    ``customer_id`` is not known (outbound calls); a customer deleted meanwhile leaves the
    interaction without one rather than losing the call.
    """

    kind: Literal["call"] = "call"
    record: CallRecord
    interaction: str = "inbound"
    customer_id: int | None = None
    customer_number: str | None = None
    region: str | None = None
    notes: str = ""
    ivr_path: list[str] = field(default_factory=list)
    recording_path: str | None = None
    segments: list[SegmentRecord] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class SurveyWrite:
    kind: Literal["survey"] = "survey"
    call_uuid: str
    agent_id: str | None
    question: str
    score: int
    at: datetime


@dataclass(frozen=True, kw_only=True)
class RecordingWrite:
    """A call recording started (the file is FreeSWITCH's; this is its metadata row)."""

    kind: Literal["recording"] = "recording"
    call_uuid: str
    path: str
    reason: str
    agent_id: str | None
    queue: str | None
    at: datetime


WriteRecord = Annotated[AgentStateWrite | CallWrite | SurveyWrite | RecordingWrite, Field(discriminator="kind")]


@dataclass(frozen=True, kw_only=True)
class Entry:
    """One queued record and its id (unique in this process: ``<boot>-<n>``); a journal line."""

    id: str
    record: WriteRecord


ENTRY = TypeAdapter(Entry)


def encode(entry: Entry) -> bytes:
    """One journal line (JSON, newline-terminated)."""
    return ENTRY.dump_json(entry) + b"\n"


def decode(line: bytes) -> Entry:
    """A journal line back to its entry; pydantic's ValidationError (naming the field) when it is not one."""
    return ENTRY.validate_json(line, strict=False)


def apply(
    session: Session,
    record: AgentStateWrite | CallWrite | SurveyWrite | RecordingWrite,
    known_agents: set[str] | None = None,
) -> bool:
    """Add the record's rows to ``session``'s transaction; False when it was already stored (skipped)."""
    return apply_all(session, [record], known_agents) == 0


def apply_all(
    session: Session,
    records: Sequence[AgentStateWrite | CallWrite | SurveyWrite | RecordingWrite],
    known_agents: set[str] | None = None,
) -> int:
    """Add the records' rows to ``session``'s transaction, in their order, in few statements: one query
    for the calls already stored, one for their customers, one for the agents, then one multi-row
    INSERT per table (the writer's thread holds the GIL for Python work: row-by-row ORM flushes made it
    the engine's largest cost). Returns how many records were skipped (calls already stored, or twice
    in ``records``).

    Raises what the row checks raise: InvalidInput / NotFound for a record the database refuses.
    ``known_agents``: agents found by earlier calls (:func:`~engine.store.agent_states.insert_agent_states`).
    """
    rows = _Rows(session, set() if known_agents is None else known_agents)
    calls_in = [r for r in records if isinstance(r, CallWrite)]
    uuids = {w.record.uuid for w in calls_in}
    db = session.connection()
    stored = set(db.scalars(select(Call.__table__.c.uuid).where(Call.__table__.c.uuid.in_(uuids)))) if uuids else set()
    wanted = {w.customer_id for w in calls_in if w.customer_id is not None}
    customer_ids = Customer.__table__.c.id
    customers_known = set(db.scalars(select(customer_ids).where(customer_ids.in_(wanted)))) if wanted else set()
    skipped = 0
    for record in records:
        match record:
            case AgentStateWrite():
                rows.states.append(
                    agent_states.agent_state_row(record.agent_id, record.state, reason=record.reason, at=record.at)
                )
            case CallWrite():
                if record.record.uuid in stored:
                    skipped += 1
                    continue
                stored.add(record.record.uuid)
                rows.call(record, customers_known)
            case SurveyWrite():
                rows.write()  # in order: the score may be of a call above
                surveys.record_score(
                    session, record.call_uuid, record.agent_id, record.question, record.score, at=record.at
                )
            case RecordingWrite():
                rows.write()
                recordings.add_recording(
                    session, record.call_uuid, record.path, reason=record.reason, agent_id=record.agent_id,
                    queue=record.queue, started_at=record.at,
                )  # fmt: skip
    rows.write()
    return skipped


@dataclass
class _Rows:
    """Rows gathered for multi-row INSERTs, written in foreign-key order."""

    session: Session
    known_agents: set[str]
    states: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    interactions: list[dict[str, Any]] = field(default_factory=list)
    segments: list[dict[str, Any]] = field(default_factory=list)

    def call(self, write: CallWrite, customers_known: set[int]) -> None:
        customer_id = write.customer_id if write.customer_id in customers_known else None
        if customer_id is None and write.customer_number and write.region:
            found = customers.find_customer_by_number(self.session, write.customer_number, region=write.region)
            customer_id = found.id if found else None
        call, interaction = calls.call_rows(
            write.record, kind=write.interaction, customer_id=customer_id, notes=write.notes,
            ivr_path=write.ivr_path, recording_path=write.recording_path,
        )  # fmt: skip
        self.calls.append(call)
        self.interactions.append(interaction)
        self.segments.extend(segments.segment_rows(write.record.uuid, write.segments))

    def write(self) -> None:
        agent_states.insert_agent_states(self.session, self.states, self.known_agents)
        for table, rows in (
            (Call.__table__, self.calls),
            (Interaction.__table__, self.interactions),
            (CallSegment.__table__, self.segments),
        ):
            if rows:  # Core on the session's connection: the ORM's execute path was a third of the cost
                self.session.connection().execute(insert(table), rows)
        self.states, self.calls, self.interactions, self.segments = [], [], [], []

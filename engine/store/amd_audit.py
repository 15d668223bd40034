"""AMD audit samples repository: recorded machine-classified calls, their labels (audited), agents' machine
dispositions of human-classified calls (false negatives), and the counts the false-positive estimate needs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.dialler.amd_audit import Label
from engine.store import audit
from engine.store.amd_audit_models import AmdSample
from engine.store.errors import InvalidInput, found
from engine.store.outbound_models import CallAttempt
from engine.store.timestamps import utcnow

RECORDING, DISPOSITION = "recording", "disposition"
MACHINE_VERDICT = "MACHINE"


def view(row: AmdSample) -> dict[str, Any]:
    """A sample as the API and the CLI show it."""
    return {
        "id": row.id,
        "call_uuid": row.call_uuid,
        "contact_id": row.contact_id,
        "amd_result": row.amd_result,
        "source": row.source,
        "has_audio": row.path is not None and row.purged_at is None,
        "purged_at": row.purged_at.isoformat() if row.purged_at else None,
        "created_at": row.created_at.isoformat(),
        "label": row.label,
        "labelled_by": row.labelled_by,
        "labelled_at": row.labelled_at.isoformat() if row.labelled_at else None,
    }


def add_sample(session: Session, campaign_id: int, contact_id: int, call_uuid: str, path: str) -> AmdSample:
    """A machine-classified call recorded to ``path``, waiting for a label."""
    row = AmdSample(
        campaign_id=campaign_id,
        contact_id=contact_id,
        call_uuid=call_uuid,
        amd_result=MACHINE_VERDICT,
        source=RECORDING,
        path=path,
    )
    session.add(row)
    session.flush()
    return row


def add_false_negative(session: Session, campaign_id: int, contact_id: int, agent_id: str) -> AmdSample | None:
    """The agent said the contact's last call it took was an answering machine: if AMD had called that call a
    person, store it as a false negative (labelled machine by the agent). None when AMD was not involved."""
    attempt = session.scalar(
        select(CallAttempt)
        .where(CallAttempt.contact_id == contact_id, CallAttempt.agent_id == agent_id)
        .order_by(CallAttempt.id.desc())
    )
    if attempt is None or attempt.amd_result in (None, MACHINE_VERDICT):
        return None
    row = session.scalar(select(AmdSample).where(AmdSample.call_uuid == attempt.uuid))
    if row is None:
        row = AmdSample(
            campaign_id=campaign_id,
            contact_id=contact_id,
            call_uuid=attempt.uuid,
            amd_result=attempt.amd_result,
            source=DISPOSITION,
        )
        session.add(row)
    row.label, row.labelled_by, row.labelled_at = Label.MACHINE.value, f"agent:{agent_id}", utcnow()
    session.flush()
    return row


def samples(session: Session, campaign_id: int, *, unlabelled: bool = False, limit: int = 100) -> list[AmdSample]:
    """The campaign's samples, oldest first; only those still waiting for a label with ``unlabelled``."""
    query = select(AmdSample).where(AmdSample.campaign_id == campaign_id)
    if unlabelled:
        query = query.where(AmdSample.label.is_(None))
    return list(session.scalars(query.order_by(AmdSample.id).limit(limit)))


def get_sample(session: Session, campaign_id: int, sample_id: int) -> AmdSample:
    row = session.get(AmdSample, sample_id)
    return found(row if row is not None and row.campaign_id == campaign_id else None, "amd sample", sample_id)


def label_sample(session: Session, campaign_id: int, sample_id: int, label: str, actor: str) -> AmdSample:
    """Label a recorded sample human or machine (relabelling allowed); the change goes to the audit log."""
    try:
        value = Label(label).value
    except ValueError:
        raise InvalidInput("label", label, f"is not one of {', '.join(v.value for v in Label)}") from None
    row = get_sample(session, campaign_id, sample_id)
    if row.source != RECORDING:
        raise InvalidInput("sample_id", sample_id, "is an agent's disposition, not a recorded sample")
    before = view(row)
    row.label, row.labelled_by, row.labelled_at = value, actor, utcnow()
    session.flush()
    audit.record(session, actor, "amd_sample.label", "amd_sample", row.id, before, view(row))
    return row


def label_counts(session: Session, campaign_id: int) -> tuple[int, int]:
    """(people, labelled) among the campaign's labelled machine-classified samples."""
    rows = session.execute(
        select(AmdSample.label, func.count())
        .where(AmdSample.campaign_id == campaign_id, AmdSample.source == RECORDING, AmdSample.label.is_not(None))
        .group_by(AmdSample.label)
    ).all()
    counts = {label: n for label, n in rows}
    return counts.get(Label.HUMAN.value, 0), sum(counts.values())


def summary(session: Session, campaign_id: int) -> dict[str, int]:
    """Counts for the campaign report: recorded samples, waiting for a label, labelled each way, false negatives."""
    humans, labelled = label_counts(session, campaign_id)
    recorded = session.scalar(
        select(func.count()).where(AmdSample.campaign_id == campaign_id, AmdSample.source == RECORDING)
    )
    return {
        "samples": recorded or 0,
        "unlabelled": (recorded or 0) - labelled,
        "labelled_human": humans,
        "labelled_machine": labelled - humans,
        "false_negatives": false_negatives(session, campaign_id),
    }


def false_negatives(session: Session, campaign_id: int) -> int:
    """Human-classified calls agents dispositioned as answering machines."""
    query = select(func.count()).where(AmdSample.campaign_id == campaign_id, AmdSample.source == DISPOSITION)
    return session.scalar(query) or 0


def verdicts_since(session: Session, campaign_id: int, since: datetime) -> list[tuple[datetime, bool]]:
    """(answered at, AMD said machine) of the calls answered since ``since``, oldest first (NOTSURE is
    not machine: it was dialled as a person)."""
    rows = session.execute(
        select(CallAttempt.answered_at, CallAttempt.amd_result)
        .where(
            CallAttempt.campaign_id == campaign_id,
            CallAttempt.answered_at >= since,
            CallAttempt.amd_result.is_not(None),
        )
        .order_by(CallAttempt.answered_at)
    ).all()
    return [(at, result == MACHINE_VERDICT) for at, result in rows]

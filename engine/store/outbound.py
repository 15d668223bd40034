"""Outbound campaign repository: campaigns, contacts (with their compliance history), DNC entries, the dial
decision log and call attempts."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.dialler import campaign as rules
from engine.dialler.compliance import ContactHistory
from engine.dialler.contacts import Contact, import_contacts
from engine.dialler.outcomes import CallOutcome
from engine.dialler.pacing import DialDecision
from engine.esl import dialstring
from engine.store import amd_audit
from engine.store.errors import Conflict, InvalidInput, NotFound, found
from engine.store.outbound_models import CallAttempt, Campaign, CampaignContact, DialDecisionRecord, DncEntry
from engine.store.validation import dial_target, non_empty

INTERNAL_DNC = "internal"


def create_campaign(
    session: Session,
    name: str,
    *,
    caller_id: str,
    queue: str,
    region: str = "GB",
    gateway: str = "sofia/gateway/trunk/",
    dial_mode: str = "progressive",
    dial_params: dict[str, Any] | None = None,
    compliance: dict[str, Any] | None = None,
    dispositions: Iterable[str] = ("sale", "no_interest", "callback", "wrong_number"),
    amd_rule: str = "hang_up",
    abandon_message: str | None = None,
    machine_message: str | None = None,
) -> Campaign:
    """A new campaign in state draft; InvalidInput naming the field for bad settings, Conflict for a taken name."""
    dial_target("campaign.name", non_empty("campaign.name", name), dialstring.extension)
    dial_target("campaign.caller_id", caller_id, dialstring.extension)
    dial_target("campaign.gateway", f"{gateway}0", dialstring.endpoint)  # the prefix of a number
    if session.scalar(select(Campaign).where(Campaign.name == name)) is not None:
        raise Conflict("campaign", name, "already exists")
    dial_params, compliance = dial_params or {}, compliance or {}
    try:
        rules.validate(dial_mode, dial_params, compliance, amd_rule)
    except ValueError as exc:
        field, _, reason = str(exc).partition(": ")
        raise InvalidInput(f"campaign.{field}", name, reason) from None
    row = Campaign(
        name=name,
        caller_id=non_empty("campaign.caller_id", caller_id),
        queue=non_empty("campaign.queue", queue),
        region=region,
        gateway=gateway,
        dial_mode=dial_mode,
        dial_params=dial_params,
        compliance=compliance,
        dispositions=list(dispositions),
        amd_rule=amd_rule,
        state=rules.CampaignState.DRAFT.value,
    )
    if abandon_message:
        row.abandon_message = abandon_message
    if machine_message:
        row.machine_message = machine_message
    session.add(row)
    session.flush()
    return row


def get_campaign(session: Session, name: str) -> Campaign:
    """Campaign ``name``; NotFound."""
    row = session.scalar(select(Campaign).where(Campaign.name == name))
    if row is None:
        raise NotFound("campaign", name)
    return row


def list_campaigns(session: Session, state: str | None = None) -> list[Campaign]:
    query = select(Campaign).order_by(Campaign.name)
    if state is not None:
        query = query.where(Campaign.state == state)
    return list(session.scalars(query))


def set_campaign_state(session: Session, name: str, new: str) -> Campaign:
    """Move campaign ``name`` to ``new`` by the legal transition table; InvalidInput for an illegal move."""
    row = get_campaign(session, name)
    try:
        row.state = rules.check_transition(row.state, new).value
    except rules.IllegalCampaignTransition as exc:
        raise InvalidInput("campaign.state", new, str(exc).removeprefix("state: ")) from None
    session.flush()
    return row


# ---- contacts -------------------------------------------------------------------------------------


def add_contacts(session: Session, campaign: Campaign, contacts: Iterable[Contact]) -> tuple[int, list[str]]:
    """Add imported contacts; numbers already in the campaign are skipped and returned."""
    existing = set(session.scalars(select(CampaignContact.number).where(CampaignContact.campaign_id == campaign.id)))
    skipped: list[str] = []
    added = 0
    for contact in contacts:
        if contact.number in existing:
            skipped.append(contact.number)
            continue
        existing.add(contact.number)
        session.add(
            CampaignContact(
                campaign_id=campaign.id,
                number=contact.number,
                time_zones=list(contact.time_zones),
                data=dict(contact.data),
                attempts={},
                notes="",
            )
        )
        added += 1
    session.flush()
    return added, skipped


def get_contact(session: Session, campaign_id: int, contact_id: int) -> CampaignContact:
    row = session.get(CampaignContact, contact_id)
    return found(row if row is not None and row.campaign_id == campaign_id else None, "contact", contact_id)


def due_contacts(
    session: Session, campaign_id: int, now: datetime, limit: int, exclude: Iterable[int] = ()
) -> list[CampaignContact]:
    """Open contacts whose next attempt is due (never-tried first, then by due time)."""
    query = (
        select(CampaignContact)
        .where(
            CampaignContact.campaign_id == campaign_id,
            CampaignContact.closed.is_(None),
            (CampaignContact.next_attempt_at.is_(None)) | (CampaignContact.next_attempt_at <= now),
        )
        .order_by(CampaignContact.next_attempt_at.is_not(None), CampaignContact.next_attempt_at, CampaignContact.id)
        .limit(limit)
    )
    skip = set(exclude)
    if skip:
        query = query.where(CampaignContact.id.not_in(skip))
    return list(session.scalars(query))


def contact_of(row: CampaignContact) -> Contact:
    """The pure core's view of a stored contact."""
    return Contact(row.number, tuple(row.time_zones), {k: str(v) for k, v in row.data.items()}, row.id)


def history_of(row: CampaignContact) -> ContactHistory:
    """Compliance history of a stored contact."""
    return ContactHistory(
        attempts={CallOutcome(k): int(v) for k, v in row.attempts.items()},
        not_before=row.next_attempt_at,
        closed=row.closed,
        abandoned_at=row.abandoned_at,
        callback_at=row.callback_at,
    )


def store_history(row: CampaignContact, history: ContactHistory) -> None:
    """Write compliance history back to the contact row."""
    row.attempts = {str(k): v for k, v in history.attempts.items()}
    row.attempt_count = sum(history.attempts.values())
    row.closed = history.closed
    row.abandoned_at = history.abandoned_at
    row.callback_at = history.callback_at
    row.next_attempt_at = history.callback_at or history.not_before


# ---- do-not-call ----------------------------------------------------------------------------------


def add_dnc(session: Session, numbers: Iterable[str], source: str = INTERNAL_DNC) -> int:
    """Add E.164 numbers to DNC list ``source``; returns how many were new."""
    non_empty("dnc.source", source)
    numbers = set(numbers)
    known = set(session.scalars(select(DncEntry.number).where(DncEntry.source == source, DncEntry.number.in_(numbers))))
    for number in sorted(numbers - known):
        session.add(DncEntry(number=number, source=source))
    session.flush()
    return len(numbers - known)


def dnc_sources(session: Session, numbers: Iterable[str]) -> dict[str, str]:
    """number -> the DNC list blocking it (``internal`` wins) for those of ``numbers`` that are listed."""
    found: dict[str, str] = {}
    rows = session.execute(select(DncEntry.number, DncEntry.source).where(DncEntry.number.in_(set(numbers))))
    for number, source in rows:
        if found.get(number) != INTERNAL_DNC:
            found[number] = source
    return found


# ---- decisions and attempts -----------------------------------------------------------------------


def log_decision(session: Session, campaign_id: int, at: datetime, decision: DialDecision) -> int:
    """Store a pacing decision with its inputs (JSON-safe); returns its id for the attempts it placed."""
    inputs = json.loads(json.dumps(decision.inputs, default=str))
    row = DialDecisionRecord(
        campaign_id=campaign_id,
        at=at,
        policy=decision.policy,
        n_calls=decision.n_calls,
        reason=decision.reason,
        inputs=inputs,
    )
    session.add(row)
    session.flush()
    return row.id


@dataclass(frozen=True)
class AttemptEnd:
    outcome: str
    ended_at: datetime
    answered_at: datetime | None = None
    hangup_cause: str | None = None
    amd_result: str | None = None
    agent_id: str | None = None
    abandoned: bool = False


def start_attempt(
    session: Session, uuid: str, contact: CampaignContact, at: datetime, decision_id: int | None
) -> CallAttempt:
    row = CallAttempt(
        uuid=uuid,
        campaign_id=contact.campaign_id,
        contact_id=contact.id,
        decision_id=decision_id,
        number=contact.number,
        dialled_at=at,
        abandoned=False,
    )
    session.add(row)
    session.flush()
    return row


def finish_attempt(session: Session, uuid: str, end: AttemptEnd) -> CallAttempt:
    row = session.scalar(select(CallAttempt).where(CallAttempt.uuid == uuid))
    if row is None:
        raise NotFound("call attempt", uuid)
    row.outcome, row.ended_at, row.answered_at = end.outcome, end.ended_at, end.answered_at
    row.hangup_cause, row.amd_result, row.agent_id = end.hangup_cause, end.amd_result, end.agent_id
    row.abandoned = end.abandoned
    contact = session.get(CampaignContact, row.contact_id)
    if contact is not None:
        contact.last_outcome = end.outcome
    session.flush()
    return row


def live_answers_since(session: Session, campaign_id: int, since: datetime) -> list[tuple[datetime, bool]]:
    """(answered_at, abandoned) of every live answer since ``since``: the abandon budget window."""
    rows = session.execute(
        select(CallAttempt.answered_at, CallAttempt.abandoned)
        .where(
            CallAttempt.campaign_id == campaign_id,
            CallAttempt.answered_at >= since,
            CallAttempt.outcome.in_([CallOutcome.LIVE.value, CallOutcome.ABANDONED.value]),
        )
        .order_by(CallAttempt.answered_at)
    )
    return [(at, abandoned) for at, abandoned in rows if at is not None]


def set_disposition(
    session: Session, campaign: Campaign, contact_id: int, code: str, agent_id: str, notes: str = ""
) -> CampaignContact:
    """The agent's disposition of a contact (one of the campaign's codes) on the contact and its last attempt."""
    if code not in campaign.dispositions:
        raise InvalidInput("disposition", code, f"is not one of {campaign.dispositions}")
    contact = get_contact(session, campaign.id, contact_id)
    contact.disposition, contact.notes = code, notes
    last = session.scalar(
        select(CallAttempt)
        .where(CallAttempt.contact_id == contact.id, CallAttempt.agent_id == agent_id)
        .order_by(CallAttempt.id.desc())
    )
    if last is not None:
        last.disposition = code
    session.flush()
    return contact


def report(session: Session, campaign: Campaign) -> dict[str, Any]:
    """Counts for operators: contacts by status, attempts by outcome and AMD result, abandons, AMD audit."""
    cid = campaign.id
    contacts = session.scalar(select(func.count()).where(CampaignContact.campaign_id == cid)) or 0
    closed = (
        session.scalar(
            select(func.count()).where(CampaignContact.campaign_id == cid, CampaignContact.closed.is_not(None))
        )
        or 0
    )
    by_outcome = dict(
        session.execute(
            select(CallAttempt.outcome, func.count())
            .where(CallAttempt.campaign_id == cid)
            .group_by(CallAttempt.outcome)
        ).all()
    )
    by_amd = dict(
        session.execute(
            select(CallAttempt.amd_result, func.count())
            .where(CallAttempt.campaign_id == cid, CallAttempt.amd_result.is_not(None))
            .group_by(CallAttempt.amd_result)
        ).all()
    )
    by_disposition = dict(
        session.execute(
            select(CampaignContact.disposition, func.count())
            .where(CampaignContact.campaign_id == cid, CampaignContact.disposition.is_not(None))
            .group_by(CampaignContact.disposition)
        ).all()
    )
    decisions = session.scalar(select(func.count()).where(DialDecisionRecord.campaign_id == cid)) or 0
    return {
        "campaign": campaign.name,
        "state": campaign.state,
        "dial_mode": campaign.dial_mode,
        "contacts": contacts,
        "contacts_closed": closed,
        "contacts_open": contacts - closed,
        "attempts": {str(k): v for k, v in by_outcome.items()},
        "amd": by_amd,
        "dispositions": by_disposition,
        "dial_decisions": decisions,
        "amd_audit": amd_audit.summary(session, cid),
    }


def import_contacts_csv(
    session: Session, campaign: Campaign, source: Path | str | Iterable[str], default_tz: str | None = None
) -> dict[str, Any]:
    """Import a contact CSV (a path or CSV text lines) into ``campaign``; the per-row report as a dict.

    Raises ContactImportError when the file cannot be read at all (e.g. the number column is missing).
    """
    parsed = import_contacts(source, campaign.region, default_tz=default_tz)
    added, existing = add_contacts(session, campaign, parsed.contacts)
    return {
        "summary": parsed.summary(),
        "imported": added,
        "already_in_campaign": existing,
        "rejected": [{"line": i.line, "field": i.field, "reason": i.reason} for i in parsed.rejected],
        "merged": [{"line": i.line, "field": i.field, "reason": i.reason} for i in parsed.merged],
    }

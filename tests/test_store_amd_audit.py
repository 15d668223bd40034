"""AMD audit samples repository: recorded samples and their audited labels, agents' machine dispositions as
false negatives, and the label and verdict counts the false-positive estimate reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.dialler.contacts import Contact
from engine.store import amd_audit as samples
from engine.store import audit
from engine.store import outbound as store
from engine.store.errors import InvalidInput, NotFound
from engine.store.outbound import AttemptEnd

pytestmark = pytest.mark.db

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
NUMBERS = ["+442079460018", "+442079460019", "+442079460020", "+442079460021"]


def _campaign(session, name: str = "spring"):
    campaign = store.create_campaign(session, name, caller_id="+442079460000", queue="sales")
    store.add_contacts(session, campaign, [Contact(n, ("Europe/London",), {}, i + 2) for i, n in enumerate(NUMBERS)])
    return campaign


def _attempt(session, campaign, leg: str, number: str, amd: str | None, agent: str | None = None) -> int:
    contact = next(c for c in store.due_contacts(session, campaign.id, NOW, 10, set()) if c.number == number)
    store.start_attempt(session, leg, contact, NOW, None)
    outcome = "machine" if amd == "MACHINE" else "live" if amd else "busy"
    end = AttemptEnd(outcome, NOW, answered_at=NOW if amd else None, amd_result=amd, agent_id=agent)
    store.finish_attempt(session, leg, end)
    return contact.id


def _sample(session, campaign, leg: str, number: str):
    contact_id = _attempt(session, campaign, leg, number, "MACHINE")
    return samples.add_sample(session, campaign.id, contact_id, leg, f"/data/{leg}.wav")


def test_recorded_samples_are_listed_until_labelled_and_labels_are_audited(session) -> None:
    campaign = _campaign(session)
    first = _sample(session, campaign, "l1", NUMBERS[0])
    second = _sample(session, campaign, "l2", NUMBERS[1])
    assert [r.id for r in samples.samples(session, campaign.id, unlabelled=True)] == [first.id, second.id]
    assert samples.label_counts(session, campaign.id) == (0, 0)

    row = samples.label_sample(session, campaign.id, first.id, "human", "sue")
    assert (row.label, row.labelled_by) == ("human", "sue") and row.labelled_at is not None
    assert [r.id for r in samples.samples(session, campaign.id, unlabelled=True)] == [second.id]
    samples.label_sample(session, campaign.id, second.id, "machine", "sue")
    assert samples.label_counts(session, campaign.id) == (1, 2)

    samples.label_sample(session, campaign.id, first.id, "machine", "ann")  # a second opinion replaces the first
    assert samples.label_counts(session, campaign.id) == (0, 2)
    entries = audit.entries(session, entity="amd_sample", entity_id=first.id)
    assert [(e.actor, e.action, e.before["label"], e.after["label"]) for e in entries] == [
        ("ann", "amd_sample.label", "human", "machine"),
        ("sue", "amd_sample.label", None, "human"),
    ]
    assert samples.view(row)["has_audio"] is True
    assert store.report(session, campaign)["amd_audit"] == {
        "samples": 2,
        "unlabelled": 0,
        "labelled_human": 0,
        "labelled_machine": 2,
        "false_negatives": 0,
    }


def test_bad_labels_and_foreign_samples_are_refused(session) -> None:
    campaign, other = _campaign(session), _campaign(session, "autumn")
    sample = _sample(session, campaign, "l1", NUMBERS[0])
    with pytest.raises(InvalidInput, match=r"label: 'person' is not one of human, machine"):
        samples.label_sample(session, campaign.id, sample.id, "person", "sue")
    with pytest.raises(NotFound, match="amd sample"):
        samples.label_sample(session, other.id, sample.id, "human", "sue")
    with pytest.raises(NotFound):
        samples.get_sample(session, campaign.id, 9999)


def test_an_agents_machine_disposition_of_a_human_verdict_is_a_false_negative(session) -> None:
    campaign = _campaign(session)
    human = _attempt(session, campaign, "l1", NUMBERS[0], "HUMAN", agent="1001")
    row = samples.add_false_negative(session, campaign.id, human, "1001")
    assert row is not None and (row.source, row.amd_result, row.label) == ("disposition", "HUMAN", "machine")
    assert row.labelled_by == "agent:1001" and row.path is None
    assert samples.add_false_negative(session, campaign.id, human, "1001").id == row.id  # twice: one sample
    assert samples.false_negatives(session, campaign.id) == 1
    # a false negative is not a labelled machine sample: it does not enter the false-positive counts
    assert samples.label_counts(session, campaign.id) == (0, 0)
    with pytest.raises(InvalidInput, match="sample_id"):
        samples.label_sample(session, campaign.id, row.id, "human", "sue")
    # another agent's disposition, or a call AMD called a machine, is no false negative
    assert samples.add_false_negative(session, campaign.id, human, "1002") is None
    machine = _attempt(session, campaign, "l2", NUMBERS[1], "MACHINE", agent="1001")
    assert samples.add_false_negative(session, campaign.id, machine, "1001") is None


def test_verdicts_since_a_time_are_the_answered_calls_amd_judged(session) -> None:
    campaign = _campaign(session)
    _attempt(session, campaign, "l1", NUMBERS[0], "MACHINE")
    _attempt(session, campaign, "l2", NUMBERS[1], "HUMAN")
    _attempt(session, campaign, "l3", NUMBERS[2], "NOTSURE")
    _attempt(session, campaign, "l4", NUMBERS[3], None)  # not answered: no verdict
    verdicts = samples.verdicts_since(session, campaign.id, NOW - timedelta(hours=1))
    assert sorted(machine for _, machine in verdicts) == [False, False, True]
    assert {at for at, _ in verdicts} == {NOW}
    assert samples.verdicts_since(session, campaign.id, NOW + timedelta(seconds=1)) == []

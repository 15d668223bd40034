"""Outbound repository: campaigns and their state table, contacts and compliance history, DNC, attempts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.dialler.compliance import ContactHistory
from engine.dialler.contacts import Contact
from engine.dialler.outcomes import CallOutcome
from engine.dialler.pacing import DialDecision
from engine.store import outbound as store
from engine.store.errors import Conflict, InvalidInput, NotFound
from engine.store.outbound_models import DialDecisionRecord

pytestmark = pytest.mark.db

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
A, B = "+442079460018", "+442079460019"


def _campaign(session, name="spring", **kw):
    return store.create_campaign(session, name, caller_id="+442079460000", queue="sales", **kw)


def test_campaign_moves_only_by_the_transition_table(session) -> None:
    row = _campaign(session)
    assert row.state == "draft"
    with pytest.raises(InvalidInput, match="a draft campaign cannot become paused"):
        store.set_campaign_state(session, "spring", "paused")
    assert store.set_campaign_state(session, "spring", "running").state == "running"
    assert store.set_campaign_state(session, "spring", "paused").state == "paused"
    assert store.set_campaign_state(session, "spring", "finished").state == "finished"
    with pytest.raises(InvalidInput, match="cannot become running"):
        store.set_campaign_state(session, "spring", "running")
    with pytest.raises(NotFound):
        store.set_campaign_state(session, "autumn", "running")


def test_bad_settings_name_the_field_and_names_are_unique(session) -> None:
    with pytest.raises(InvalidInput, match=r"campaign\.dial_mode"):
        _campaign(session, dial_mode="turbo")
    with pytest.raises(InvalidInput, match=r"campaign\.compliance\.window\.start"):
        _campaign(session, compliance={"window": {"start": "8am"}})
    with pytest.raises(InvalidInput, match=r"campaign\.amd_rule"):
        _campaign(session, amd_rule="shout")
    _campaign(session)
    with pytest.raises(Conflict):
        _campaign(session)


@pytest.mark.parametrize(
    ("field", "settings"),
    [
        ("name", {"name": "spring\n\napi hupall"}),
        ("name", {"name": "spring sale,execute_on_answer=hupall"}),
        ("gateway", {"gateway": "sofia/gateway/trunk/{x=y}"}),
        ("gateway", {"gateway": "user/1009,sofia/gateway/trunk/"}),
        ("caller_id", {"caller_id": "4000,origination_uuid=forged"}),
    ],
)
def test_what_goes_into_a_campaigns_dial_string_is_checked_when_it_is_stored(session, field, settings) -> None:
    args = {"name": "spring", "caller_id": "+442079460000", "queue": "sales", **settings}
    with pytest.raises(InvalidInput, match=rf"campaign\.{field}"):
        store.create_campaign(session, args.pop("name"), **args)


def test_import_reports_rows_and_skips_numbers_already_in_the_campaign(session) -> None:
    campaign = _campaign(session)
    csv = ["phone,name\n", "020 7946 0018,Ada\n", "12,Bad\n"]
    first = store.import_contacts_csv(session, campaign, csv)
    assert first["imported"] == 1 and first["rejected"][0]["line"] == 3 and first["rejected"][0]["field"] == "phone"
    again = store.import_contacts_csv(session, campaign, csv)
    assert again["imported"] == 0 and again["already_in_campaign"] == [A]


def test_due_contacts_and_history_round_trip(session) -> None:
    campaign = _campaign(session)
    store.add_contacts(
        session, campaign, [Contact(A, ("Europe/London",), {"n": "1"}, 2), Contact(B, ("Europe/London",), {}, 3)]
    )
    a, b = store.due_contacts(session, campaign.id, NOW, 10)
    assert (a.number, b.number) == (A, B)
    history = ContactHistory(attempts={CallOutcome.BUSY: 1}, not_before=NOW + timedelta(minutes=15))
    store.store_history(a, history)
    session.flush()
    assert [c.number for c in store.due_contacts(session, campaign.id, NOW, 10)] == [B]
    assert [c.number for c in store.due_contacts(session, campaign.id, NOW, 10, exclude=[b.id])] == []
    assert store.history_of(a) == history and a.attempt_count == 1
    assert store.contact_of(a).data == {"n": "1"}


def test_dnc_sources_prefer_the_internal_list(session) -> None:
    assert store.add_dnc(session, [A, B], "tps") == 2
    assert store.add_dnc(session, [A], "tps") == 0
    store.add_dnc(session, [A])
    assert store.dnc_sources(session, [A, B, "+442079460020"]) == {A: "internal", B: "tps"}


def test_attempts_feed_the_budget_window_and_the_report(session) -> None:
    campaign = _campaign(session)
    store.add_contacts(session, campaign, [Contact(A, ("Europe/London",), {}, 2)])
    contact = store.due_contacts(session, campaign.id, NOW, 1)[0]
    decision = DialDecision(1, "progressive", {"agents_free": 1, "when": NOW}, "1 free agent")
    decision_id = store.log_decision(session, campaign.id, NOW, decision)
    assert session.get(DialDecisionRecord, decision_id).inputs == {"agents_free": 1, "when": str(NOW)}
    store.start_attempt(session, "leg-1", contact, NOW, decision_id)
    end = store.AttemptEnd("abandoned", NOW + timedelta(seconds=9), answered_at=NOW, amd_result="HUMAN", abandoned=True)
    store.finish_attempt(session, "leg-1", end)
    assert store.live_answers_since(session, campaign.id, NOW - timedelta(days=1)) == [(NOW, True)]
    assert store.live_answers_since(session, campaign.id, NOW + timedelta(seconds=1)) == []
    report = store.report(session, campaign)
    assert report["attempts"] == {"abandoned": 1} and report["amd"] == {"HUMAN": 1} and report["dial_decisions"] == 1
    with pytest.raises(InvalidInput, match="disposition"):
        store.set_disposition(session, campaign, contact.id, "maybe", "1001")

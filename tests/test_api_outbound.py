"""engine/api/outbound.py alone over HTTP on a real database, with a real Campaigns manager (no campaign is
started here, so nothing dials): creating campaigns, importing contacts, state changes, dispositions,
previews and the do-not-call list; what is stored, and bad input refused naming the field with nothing
stored. A running campaign's dialling is tests/test_integration_outbound_campaign.py's."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.api import outbound
from engine.campaigns.manager import Campaigns
from engine.metrics import Metrics
from engine.store import outbound as store
from engine.store.db import make_engine, session_factory
from engine.store.migrate import upgrade
from engine.store.outbound_models import CampaignContact
from tests.api_client import ADMIN, AGENT_1001, AGENT_1002, SUPERVISOR, TOKENS, serve

pytestmark = pytest.mark.db
SPRING = {"name": "spring", "caller_id": "+442079460000", "queue": "sales", "dispositions": ["sale", "no_sale"]}
CSV = "phone,name\n020 7946 0018,Ada\n020 7946 0019,Bob\nnot-a-number,Eve\n"


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    upgrade(db_url)
    engine = make_engine(db_url)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def api(sessions, tmp_path):
    campaigns = Campaigns(sessions, None, Metrics(), None, data_dir=tmp_path)  # type: ignore[arg-type]
    with serve([partial(outbound.register, campaigns=campaigns, sessions=sessions)], TOKENS) as api:
        yield api


def _contacts(sessions: sessionmaker[Session]) -> list[tuple[str, Any]]:
    with sessions() as s:
        rows = s.scalars(select(CampaignContact).order_by(CampaignContact.id)).all()
        return [(r.number, r.disposition) for r in rows]


def _campaign_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return len(store.list_campaigns(s))


def test_an_admin_creates_a_campaign_in_draft_and_staff_list_it(api) -> None:
    made = api.call("POST", "/api/campaigns", ADMIN, {**SPRING, "dial_mode": "preview"})
    assert (made.status, made.body) == (200, {"name": "spring", "state": "draft"})
    assert api.call("GET", "/api/campaigns", SUPERVISOR).body == [
        {"name": "spring", "state": "draft", "dial_mode": "preview"}
    ]
    assert api.call("POST", "/api/campaigns", SUPERVISOR, {**SPRING, "name": "autumn"}).status == 403
    assert api.call("GET", "/api/campaigns", AGENT_1001).status == 403
    assert api.call("POST", "/api/campaigns", ADMIN, SPRING).status == 409  # the name is taken


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"region": "gb"}, "body.region"),
        ({"name": "x" * 65}, "body.name"),
        ({"caller_id": "+44\r\n"}, "body.caller_id"),
        ({"dial_params": {"ratio": [1, 2]}, "dial_mode": "fixed_ratio"}, "body"),
        ({"dial_params": {f"k{n}": 1 for n in range(31)}}, "body.dial_params"),
        ({"dispositions": ["d"] * 51}, "body.dispositions"),
        ({"colour": "red"}, "body.colour"),
    ],
)
def test_a_bad_campaign_is_400_naming_the_field_and_nothing_is_stored(api, sessions, change, field) -> None:
    answer = api.call("POST", "/api/campaigns", ADMIN, {**SPRING, **change})
    assert answer.error == (400, field), answer.body
    assert _campaign_count(sessions) == 0


def test_a_dial_mode_the_dialler_does_not_know_is_refused_by_its_rules(api, sessions) -> None:
    answer = api.call("POST", "/api/campaigns", ADMIN, {**SPRING, "dial_mode": "psychic"})
    assert answer.status == 400 and "psychic" in answer.body["error"]
    assert _campaign_count(sessions) == 0


def test_contacts_are_imported_with_a_per_row_report(api, sessions) -> None:
    api.call("POST", "/api/campaigns", ADMIN, SPRING)
    report = api.call("POST", "/api/campaigns/spring/contacts", ADMIN, {"csv": CSV, "default_tz": "Europe/London"})
    assert report.status == 200 and report.body["imported"] == 2
    assert [(r["line"], r["field"]) for r in report.body["rejected"]] == [(4, "phone")]
    assert [n for n, _ in _contacts(sessions)] == ["+442079460018", "+442079460019"]
    again = api.call("POST", "/api/campaigns/spring/contacts", ADMIN, {"csv": CSV})
    assert (again.body["imported"], len(again.body["already_in_campaign"])) == (0, 2)
    assert api.call("POST", "/api/campaigns/spring/contacts", SUPERVISOR, {"csv": CSV}).status == 403


def test_a_csv_without_a_number_column_or_for_an_unknown_campaign_stores_nothing(api, sessions) -> None:
    api.call("POST", "/api/campaigns", ADMIN, SPRING)
    unreadable = api.call("POST", "/api/campaigns/spring/contacts", ADMIN, {"csv": "name\nAda\n"})
    assert (unreadable.status, unreadable.body["error"]) == (400, "<input>: line 1: field 'phone': missing column")
    assert api.call("POST", "/api/campaigns/autumn/contacts", ADMIN, {"csv": CSV}).status == 404
    assert api.call("POST", "/api/campaigns/spring/contacts", ADMIN, {"csv": ""}).error == (400, "body.csv")
    assert api.call("POST", "/api/campaigns/spring/contacts", ADMIN, {"csv": "x" * 60_001}).error == (400, "body.csv")
    assert _contacts(sessions) == []


def test_a_campaign_moves_only_by_its_legal_transitions(api) -> None:
    api.call("POST", "/api/campaigns", ADMIN, SPRING)
    assert api.call("POST", "/api/campaigns/spring/pause", SUPERVISOR).status == 400  # a draft cannot pause
    finished = api.call("POST", "/api/campaigns/spring/finish", SUPERVISOR)
    assert (finished.status, finished.body["state"]) == (200, "finished")
    refused = api.call("POST", "/api/campaigns/spring/start", ADMIN)
    assert refused.status == 400 and "a finished campaign cannot become running" in refused.body["error"]
    assert api.call("GET", "/api/campaigns/spring", ADMIN).body["state"] == "finished"
    assert api.call("POST", "/api/campaigns/autumn/start", ADMIN).status == 404
    assert api.call("POST", "/api/campaigns/spring/finish", AGENT_1001).status == 403


def test_an_agent_records_their_own_disposition_with_a_callback(api, sessions) -> None:
    api.call("POST", "/api/campaigns", ADMIN, SPRING)
    api.call("POST", "/api/campaigns/spring/contacts", ADMIN, {"csv": CSV})
    with sessions() as s:
        first = s.scalar(select(func.min(CampaignContact.id)))
    path = f"/api/campaigns/spring/contacts/{first}/disposition"
    body = {"agent": "1001", "code": "no_sale", "notes": "call back later", "callback_at": "2030-01-02T10:00:00+00:00"}
    done = api.call("POST", path, AGENT_1001, body)
    assert (done.status, done.body["disposition"], done.body["callback_at"]) == (
        200,
        "no_sale",
        "2030-01-02T10:00:00+00:00",
    )
    assert _contacts(sessions)[0] == ("+442079460018", "no_sale")
    assert api.call("POST", path, AGENT_1002, {**body, "code": "sale"}).status == 403  # not agent 1002's to set
    assert api.call("POST", path, SUPERVISOR, {**body, "code": "sale", "callback_at": None}).status == 200


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"code": "maybe"}, 400, None),  # not one of the campaign's codes
        ({"callback_at": "next week"}, 400, None),
        ({"agent": ""}, 400, "body.agent"),
        ({"notes": "n\x00"}, 400, "body.notes"),
    ],
)
def test_a_bad_disposition_is_refused_and_nothing_is_stored(api, sessions, change, status, field) -> None:
    api.call("POST", "/api/campaigns", ADMIN, SPRING)
    api.call("POST", "/api/campaigns/spring/contacts", ADMIN, {"csv": CSV})
    with sessions() as s:
        first = s.scalar(select(func.min(CampaignContact.id)))
    body = {"agent": "1001", "code": "sale", **change}
    answer = api.call("POST", f"/api/campaigns/spring/contacts/{first}/disposition", ADMIN, body)
    assert answer.error == (status, field), answer.body
    assert _contacts(sessions)[0] == ("+442079460018", None)


def test_a_disposition_of_an_unknown_contact_is_404(api) -> None:
    api.call("POST", "/api/campaigns", ADMIN, SPRING)
    answer = api.call(
        "POST", "/api/campaigns/spring/contacts/999/disposition", ADMIN, {"agent": "1001", "code": "sale"}
    )
    assert answer.status == 404


def test_a_preview_needs_a_running_campaign_and_the_agents_own_token(api) -> None:
    api.call("POST", "/api/campaigns", ADMIN, {**SPRING, "dial_mode": "preview"})
    not_running = api.call("GET", "/api/campaigns/spring/preview/1001", AGENT_1001)
    assert (not_running.status, not_running.body["error"]) == (409, "campaign 'spring' is not running")
    assert api.call("GET", "/api/campaigns/autumn/preview/1001", AGENT_1001).status == 404
    assert api.call("GET", "/api/campaigns/spring/preview/1001", AGENT_1002).status == 403
    decide = {"action": "call", "contact_id": 1}
    assert api.call("POST", "/api/campaigns/spring/preview/1001", AGENT_1001, decide).error == (400, "body.action")


def test_numbers_are_added_to_a_dnc_list_in_e164_and_checked_in_any_form(api) -> None:
    added = api.call("POST", "/api/dnc", SUPERVISOR, {"numbers": ["020 7946 0020", "+442079460021"], "source": "tps"})
    assert (added.status, added.body) == (200, {"added": 2, "source": "tps"})
    assert api.call("GET", "/api/dnc/02079460020", ADMIN).body == {"number": "+442079460020", "listed_on": "tps"}
    assert api.call("GET", "/api/dnc/%2B442079460099", ADMIN).body == {"number": "+442079460099", "listed_on": None}
    assert api.call("GET", "/api/dnc/02079460020", AGENT_1001).status == 403
    assert api.call("POST", "/api/dnc", AGENT_1001, {"numbers": ["02079460022"]}).status == 403


def test_a_dnc_list_with_one_bad_number_adds_none_of_them(api) -> None:
    answer = api.call("POST", "/api/dnc", ADMIN, {"numbers": ["02079460022", "banana"]})
    assert answer.status == 400 and "banana" in answer.body["error"]
    assert api.call("GET", "/api/dnc/02079460022", ADMIN).body["listed_on"] is None
    assert api.call("POST", "/api/dnc", ADMIN, {"numbers": []}).error == (400, "body.numbers")
    assert api.call("GET", "/api/dnc/banana", ADMIN).status == 400
    assert api.call("GET", "/api/dnc/02079460022?region=xx", ADMIN).error == (400, "query.region")

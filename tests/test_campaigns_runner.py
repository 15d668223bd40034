"""The campaign runner's state that must survive a restart: the abandon budget window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.campaigns.runner import CampaignRunner, RunnerServices
from engine.dialler.contacts import Contact
from engine.metrics import Metrics
from engine.store import outbound as store
from engine.store.db import make_engine, session_factory
from engine.store.migrate import upgrade

pytestmark = pytest.mark.db

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def test_a_new_runner_rebuilds_the_abandon_window_from_stored_attempts(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    with sessions.begin() as s:
        campaign = store.create_campaign(
            s, "spring", caller_id="+442079460000", queue="sales", compliance={"budget": {"rule": "ofcom_24h"}}
        )
        numbers = [f"+4420794600{n:02d}" for n in range(10, 16)]
        store.add_contacts(s, campaign, [Contact(n, ("Europe/London",), {}, i) for i, n in enumerate(numbers)])
        contacts = store.due_contacts(s, campaign.id, NOW, 10)
        # (answered how long ago, outcome, abandoned): the 30 h old answer is outside the 24 h window
        for i, (age, outcome, abandoned) in enumerate(
            [
                (30, "abandoned", True),
                (5, "live", False),
                (4, "abandoned", True),
                (3, "live", False),
                (2, "machine", False),
            ]
        ):
            at = NOW - timedelta(hours=age)
            store.start_attempt(s, f"leg-{i}", contacts[i], at, None)
            store.finish_attempt(s, f"leg-{i}", store.AttemptEnd(outcome, at, answered_at=at, abandoned=abandoned))
    services = RunnerServices(sessions, None, None, Metrics(), lambda: NOW.timestamp())  # type: ignore[arg-type]
    status = CampaignRunner("spring", services).budget.status(NOW.timestamp())
    assert (status.live, status.detected_abandons) == (3, 1)
    engine.dispose()

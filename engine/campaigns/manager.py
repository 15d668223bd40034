"""Every campaign of one engine: the dialler's ESL connection, a runner per running campaign, state changes,
dispositions and callbacks. The HTTP API and the engine lifecycle call this."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from engine.campaigns.legs import Legs
from engine.campaigns.runner import CampaignRunner, RunnerServices
from engine.dialler import campaign as rules
from engine.dialler.compliance import ComplianceState, schedule_callback
from engine.metrics import Metrics
from engine.runtime.acd_shell import AcdShell
from engine.store import outbound as store
from engine.store.timestamps import utc

log = logging.getLogger(__name__)


class Campaigns:
    """Owns the runners; ``start()`` resumes campaigns stored as running."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        acd: AcdShell,
        metrics: Metrics,
        legs: Legs,
        *,
        wall: Callable[[], float] = time.time,
        tick_seconds: float = 0.2,
    ) -> None:
        self.sessions = sessions
        self.legs = legs
        self.services = RunnerServices(sessions, legs, acd, metrics, wall, tick_seconds)
        self.runners: dict[str, CampaignRunner] = {}

    def start(self, wait_for_freeswitch: float | None = None) -> None:
        self.legs.client.start(wait=wait_for_freeswitch)
        with self.sessions() as s:
            running = [row.name for row in store.list_campaigns(s, rules.CampaignState.RUNNING.value)]
        for name in running:
            self._run(name)

    def stop(self) -> None:
        for runner in self.runners.values():
            runner.stop()
        self.runners.clear()
        self.legs.client.stop()

    def _run(self, name: str) -> None:
        runner = self.runners.get(name)
        if runner is None or not runner.running:
            runner = self.runners[name] = CampaignRunner(name, self.services)
            runner.start()
            log.info("campaign %s running", name)

    def set_state(self, name: str, state: str) -> dict[str, Any]:
        """Move a campaign through its legal transitions; running starts its runner, anything else stops it."""
        with self.sessions.begin() as s:
            row = store.set_campaign_state(s, name, state)
            new = row.state
        if new == rules.CampaignState.RUNNING:
            self._run(name)
        else:
            runner = self.runners.pop(name, None)
            if runner is not None:
                runner.stop()
        return self.status(name)

    def status(self, name: str) -> dict[str, Any]:
        with self.sessions() as s:
            out = store.report(s, store.get_campaign(s, name))
        runner = self.runners.get(name)
        if runner is not None:
            now = self.services.wall()
            budget = runner.window(now)
            out["live"] = {
                "calls_in_flight": len(runner.dials),
                "last_decision": runner.last_decision,
                "window": {
                    "live": budget.live,
                    "abandons": budget.abandons,
                    "rate": round(budget.rate, 5),
                    "remaining_to_cap": round(budget.remaining_to_cap, 2),
                },
            }
        return out

    def running(self, name: str) -> CampaignRunner:
        """The runner of a running campaign; ValueError when the campaign is not running."""
        runner = self.runners.get(name)
        if runner is None:
            with self.sessions() as s:
                store.get_campaign(s, name)  # NotFound for an unknown campaign
            raise ValueError(f"campaign {name!r} is not running")
        return runner

    def disposition(
        self,
        name: str,
        contact_id: int,
        agent_id: str,
        code: str,
        *,
        notes: str = "",
        callback_at: datetime | None = None,
    ) -> dict[str, Any]:
        """An agent's disposition of a contact, optionally with a callback (the contact is re-dialled then)."""
        with self.sessions.begin() as s:
            campaign = store.get_campaign(s, name)
            row = store.set_disposition(s, campaign, contact_id, code, agent_id, notes)
            if callback_at is not None:
                history = store.history_of(row)
                state = ComplianceState(rules.compliance_settings(campaign.compliance), history={row.number: history})
                schedule_callback(store.contact_of(row), utc("callback_at", callback_at), state)
                store.store_history(row, history)
            return {
                "contact_id": row.id,
                "disposition": row.disposition,
                "callback_at": row.callback_at.isoformat() if row.callback_at else None,
            }

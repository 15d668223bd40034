"""Every campaign of one engine: the dialler's ESL connection, a runner per running campaign, state changes,
dispositions and callbacks, AMD audit labels. The HTTP API and the engine lifecycle call this."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from engine.campaigns.legs import Legs
from engine.campaigns.runner import CampaignRunner, RunnerServices
from engine.dialler import amd_audit
from engine.dialler import campaign as rules
from engine.dialler.compliance import ComplianceState, schedule_callback
from engine.metrics import Metrics
from engine.runtime.acd_shell import AcdShell
from engine.store import amd_audit as samples
from engine.store import outbound as store
from engine.store.errors import Gone, NotFound
from engine.store.retention import purged_reason
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
        data_dir: Path = Path("var"),
    ) -> None:
        self.sessions = sessions
        self.legs = legs
        self.services = RunnerServices(sessions, legs, acd, metrics, wall, tick_seconds, data_dir=data_dir)
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
        self.legs.orphans.stop_watching()
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
                    "amd_false_positives": round(budget.abandons - budget.detected_abandons, 4),
                },
                "amd_false_positive": runner.amd_estimate.view(),
                "amd_decision_seconds": round(runner.stats.amd_time.mean(), 3),
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
            if code in amd_audit.audit_settings(campaign.compliance).machine_dispositions:
                missed = samples.add_false_negative(s, campaign.id, contact_id, agent_id)
                if missed is not None:
                    self.services.metrics.campaign_amd_labels.labels(name, missed.amd_result, missed.label).inc()
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

    # ---- AMD audit --------------------------------------------------------------------------------

    def amd_samples(self, name: str, *, unlabelled: bool = False, limit: int = 100) -> dict[str, Any]:
        """The campaign's AMD audit samples (oldest first) and its false-negative count."""
        with self.sessions() as s:
            campaign = store.get_campaign(s, name)
            rows = samples.samples(s, campaign.id, unlabelled=unlabelled, limit=limit)
            return {
                "campaign": name,
                "samples": [samples.view(r) for r in rows],
                "false_negatives": samples.false_negatives(s, campaign.id),
            }

    def label_amd_sample(self, name: str, sample_id: int, label: str, actor: str) -> dict[str, Any]:
        """A supervisor's verdict on a recorded sample (audited); a running campaign's bound follows at once."""
        with self.sessions.begin() as s:
            campaign = store.get_campaign(s, name)
            row = samples.label_sample(s, campaign.id, sample_id, label, actor)
            out = samples.view(row)
        self.services.metrics.campaign_amd_labels.labels(name, out["amd_result"], out["label"]).inc()
        runner = self.runners.get(name)
        if runner is not None:
            runner.reload_amd_labels()
            out["estimate"] = runner.amd_estimate.view()
        return out

    def amd_sample_audio(self, name: str, sample_id: int) -> Path:
        """The WAV file of a recorded sample; NotFound when the sample has no audio (left)."""
        with self.sessions() as s:
            campaign = store.get_campaign(s, name)
            row = samples.get_sample(s, campaign.id, sample_id)
            path = Path(row.path) if row.path else None
            if row.purged_at is not None:
                raise Gone("amd sample audio", sample_id, purged_reason(row.purged_at))
        if path is None or not path.is_file():
            raise NotFound("amd sample audio", sample_id)
        return path

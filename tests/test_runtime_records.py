"""The one call-record builder (engine/runtime/records.py) on a running engine and the FreeSWITCH emulator:
an inbound call a caller had with an agent, and a campaign attempt as the campaign runner reports it
(``Campaigns.services.attempt_recorded``, runner.py's record path), each leave one CDR, one interaction
and their segments; attempts no person answered leave none."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from engine.campaigns.call import DialResult
from engine.campaigns.runner import AttemptRecorded
from engine.dialler.outcomes import CallOutcome
from engine.emulator import Caller, Phone
from engine.runtime.call_session import CallTrace
from engine.store import calls, customers, segments
from engine.store.errors import NotFound
from engine.store.models import Interaction
from tests.acd_rig import acd_rig, login, talking, wait_until
from tests.hotline_rig import HOTLINE_NUMBER, Rig

pytestmark = [pytest.mark.integration, pytest.mark.db]

AGENTS = {"1001": {"sales": 5}}
NUMBER = "+442079460018"


def cdr(rig: Rig, uuid: str) -> dict[str, Any] | None:
    with rig.engine.sessions() as s:
        try:
            return calls.view(calls.get_call(s, uuid))
        except NotFound:
            return None


def interactions(rig: Rig, uuid: str) -> list[tuple[str, str | None, int | None, str]]:
    with rig.engine.sessions() as s:
        rows = s.scalars(select(Interaction).where(Interaction.call_uuid == uuid)).all()
        return [(str(r.kind), r.agent_id, r.customer_id, r.notes) for r in rows]


def test_an_inbound_call_leaves_one_cdr_interaction_and_segment_before_its_listeners_hear(tmp_path, db_url) -> None:
    with acd_rig(tmp_path, db_url, AGENTS, {}) as rig:
        rig.emulator.phones["1001"] = Phone("1001", answer_delay=1)
        seen_written: list[tuple[str, bool]] = []
        # told before the rig's own listener (which the test waits on): the check is done when next_call returns
        rig.engine.call_recorded.insert(0, lambda t: seen_written.append((t.uuid, cdr(rig, t.uuid) is not None)))
        login(rig, "1001")
        uuid = rig.emulator.place_call(Caller("13900000008", script=["1"]), HOTLINE_NUMBER)
        wait_until(lambda: talking(rig, "1001"), what="1001 talking")
        rig.emulator.hangup(uuid)
        trace: CallTrace = rig.next_call()
        assert trace.uuid == uuid and seen_written == [(uuid, True)]  # told once the CDR was in the database
        record = cdr(rig, uuid)
        assert record is not None
        assert (record["caller"], record["destination"], record["outcome"], record["queue"], record["agent"]) == (
            "13900000008", HOTLINE_NUMBER, "answered", "sales", "1001",
        )  # fmt: skip
        assert (record["hold_count"], record["hangup_cause"]) == (0, "NORMAL_CLEARING")
        assert interactions(rig, uuid) == [("inbound", "1001", None, "")]
        with rig.engine.sessions() as s:
            assert [(x.agent_id, x.queue) for x in segments.segments_of(s, uuid)] == [("1001", "sales")]


def test_a_campaign_call_a_person_answered_is_recorded_by_the_same_builder(tmp_path, db_url) -> None:
    with acd_rig(tmp_path, db_url, AGENTS, {}, config={"calls": {"region": "GB"}}) as rig:
        with rig.engine.sessions.begin() as s:
            ada = customers.create_customer(s, "Ada", region="GB", numbers=[NUMBER]).id
        engine = rig.engine
        answered_at = 1_796_115_600.0
        attempts = [  # the live one last: the writer keeps order, so anything queued before it is written by then
            AttemptRecorded("spring", "leg-machine", 2, NUMBER, DialResult(CallOutcome.MACHINE, "NORMAL_CLEARING")),
            AttemptRecorded("spring", "leg-busy", 3, NUMBER, DialResult(CallOutcome.BUSY, "USER_BUSY")),
            AttemptRecorded("spring", "leg-live", 1, NUMBER, DialResult(
                CallOutcome.LIVE, "NORMAL_CLEARING", answered_at, agent_id="1001", talk_seconds=42.0,
            )),
        ]  # fmt: skip
        for attempt in attempts:  # as the runner tells its listeners once each attempt is stored
            for listener in engine.campaigns.services.attempt_recorded:
                listener(attempt)
        record = wait_until(lambda: cdr(rig, "leg-live"), what="the campaign call's CDR")
        assert (record["caller"], record["destination"], record["outcome"], record["agent"]) == (
            "campaign:spring", NUMBER, "answered", "1001",
        )  # fmt: skip
        assert (record["talk_seconds"], record["hangup_cause"]) == (42.0, "NORMAL_CLEARING")
        assert interactions(rig, "leg-live") == [("outbound", "1001", ada, "campaign spring")]
        assert cdr(rig, "leg-machine") is None and cdr(rig, "leg-busy") is None
        assert interactions(rig, "leg-machine") == [] and interactions(rig, "leg-busy") == []


def test_agent_state_changes_made_moments_apart_keep_their_order_in_the_log() -> None:
    """Each change is stamped from two clocks read one after the other; when the ACD's clock is read late for the
    second change (the writer's thread took the GIL in between), its stamp would come before the first's."""
    from engine.acd import commands
    from engine.acd.states import AgentState
    from engine.metrics import Metrics
    from engine.runtime.records import CallRecords

    submitted: list[Any] = []

    class Writer:
        def submit(self, write: Any, done: Any = None) -> None:
            submitted.append(write)

    readings = iter([100.0, 100.01])  # the second read 10 ms late: its change, made at 100.0001, looks older
    records = CallRecords(Writer(), None, None, Metrics(), region="CN", acd_clock=lambda: next(readings))  # type: ignore[arg-type]
    records.record_agent_state(commands.AgentStateChanged("1001", AgentState.READY, AgentState.BREAK, "lunch", 100.0))
    records.record_agent_state(commands.AgentStateChanged("1001", AgentState.BREAK, AgentState.READY, "", 100.0001))
    assert [w.state for w in submitted] == ["break", "ready"]
    assert submitted[0].at < submitted[1].at

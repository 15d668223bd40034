"""The call-record builder: every finished call becomes one :class:`~engine.store.write_records.CallWrite`
(CDR, interaction, segments) queued on the writer, in order, off the event loop. The engine's other
records (survey answers, agent state changes) are queued here too.

One builder for inbound and outbound calls: inbound calls (a session's :class:`CallTrace`, also an adopted call's),
and campaign calls a person answered (the campaign runner's
:class:`~engine.campaigns.runner.AttemptRecorded`, heard through ``Campaigns.services.attempt_recorded``;
machines, busy and no answer stay in the attempt log only). Both close the call's hold tracking and
its segments (:mod:`engine.runtime.hold_watch`, :mod:`engine.runtime.segments`) the same way. (A
keep-your-place callback's dial still writes its own record, in :mod:`engine.runtime.callbacks`.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.acd import commands
from engine.acd.hold import HoldTotal
from engine.campaigns.runner import AttemptRecorded
from engine.dialler.outcomes import CallOutcome
from engine.metrics import Metrics
from engine.runtime.call_session import CallTrace, now
from engine.runtime.hold_watch import HoldWatch
from engine.runtime.segments import CallSegments
from engine.store.calls import CallRecord
from engine.store.write_records import AgentStateWrite, CallWrite, SurveyWrite
from engine.store.writer import Writer

NO_HOLD = HoldTotal(0.0, 0)
RecordedListener = Callable[[CallTrace], None]


@dataclass(frozen=True)
class Finished:
    """One finished call, whatever its kind: what its CDR and interaction say.

    ``hold`` is the hold total the CDR carries (``None``: the call's segments still get the hold so far,
    the CDR none: campaign calls, whose hold is not in their CDR)."""

    record: dict[str, Any]
    interaction: str
    hold: HoldTotal | None
    write: dict[str, Any] = field(default_factory=dict)


class CallRecords:
    """Builds and queues the record of each finished call; tells ``call_recorded`` listeners once an
    inbound call's CDR is in the database (tickets from callbacks, tests, benches)."""

    def __init__(
        self,
        writer: Writer,
        holds: HoldWatch,
        segments: CallSegments,
        metrics: Metrics,
        *,
        region: str,
        acd_clock: Callable[[], float],
        clock: Callable[[], datetime] = now,
    ) -> None:
        """``acd_clock``: the ACD's clock, whose times agent state changes carry."""
        self.writer, self.holds, self.segments, self.metrics = writer, holds, segments, metrics
        self.region, self.acd_clock, self.clock = region, acd_clock, clock
        self.call_recorded: list[RecordedListener] = []
        self._last_state_at: dict[str, datetime] = {}  # agent id -> the stamp of their last state change

    def record_call(self, trace: CallTrace) -> None:
        """An inbound call ended (its session, an adopted call's watch): its CDR and interaction."""
        finished = Finished(
            record={
                "caller_number": trace.caller, "destination": trace.destination, "created_at": trace.created_at,
                "outcome": trace.outcome, "flow": trace.flow, "queue": trace.queue, "agent_id": trace.agent_id,
                "priority": trace.priority, "answered_at": trace.answered_at, "queued_at": trace.queued_at,
                "offered_at": trace.offered_at, "bridged_at": trace.bridged_at,
                "hangup_cause": trace.hangup_cause or None,
            },
            interaction=trace.kind,
            hold=self.holds.close(trace.uuid),
            write={
                "customer_id": trace.customer["id"] if trace.customer else None, "ivr_path": list(trace.ivr_path),
                "recording_path": trace.recording,
            },
        )  # fmt: skip
        self.build(trace.uuid, finished, ended=trace.ended_at, done=lambda: self._written(trace))

    def record_outbound(self, attempt: AttemptRecorded) -> None:
        """A campaign attempt is stored (``CampaignServices.attempt_recorded``): a call a person answered
        is a call like any other, a CDR and an ``outbound`` interaction in the customer's history."""
        result, ended = attempt.result, self.clock()
        if result.outcome not in (CallOutcome.LIVE, CallOutcome.ABANDONED):
            self.segments.finish(attempt.leg, ended, self.holds.so_far(attempt.leg))  # forgotten, not written
            return
        answered = datetime.fromtimestamp(result.answered_at, UTC) if result.answered_at else ended
        finished = Finished(
            record={
                "caller_number": f"campaign:{attempt.campaign}", "destination": attempt.number,
                "created_at": min(answered, ended), "answered_at": min(answered, ended),
                "outcome": "answered" if result.outcome is CallOutcome.LIVE else "abandoned",
                "agent_id": result.agent_id, "talk_seconds": result.talk_seconds, "hangup_cause": result.hangup_cause,
            },
            interaction="outbound",
            hold=None,
            write={"customer_number": attempt.number, "region": self.region, "notes": f"campaign {attempt.campaign}"},
        )  # fmt: skip
        self.build(attempt.leg, finished, ended=ended)

    def build(
        self, uuid: str, finished: Finished, *, ended: datetime | None = None, done: Callable[[], None] | None = None
    ) -> CallWrite:
        """The one builder: close the call's segments (with its hold), build its CDR and queue the write
        (``done`` once committed); returns what was queued."""
        ended = ended or self.clock()
        hold = finished.hold
        parts = self.segments.finish(uuid, ended, hold if hold is not None else self.holds.so_far(uuid))
        record = CallRecord(uuid=uuid, ended_at=ended, **finished.record, **_hold_fields(hold))
        write = CallWrite(record=record, interaction=finished.interaction, segments=list(parts or ()), **finished.write)
        self.writer.submit(write, done=done)
        return write

    def record_survey(self, call_uuid: str, agent_id: str | None, question: str, score: int) -> None:
        """A post-call survey's answer."""
        self.writer.submit(
            SurveyWrite(call_uuid=call_uuid, agent_id=agent_id, question=question, score=score, at=datetime.now(UTC))
        )
        self.metrics.surveys.labels(str(score)).inc()

    def record_agent_state(self, change: commands.AgentStateChanged) -> None:
        """Queue the change stamped with when the ACD made it, not when the writer commits it (later:
        off the loop, or after a database outage)."""
        at = datetime.now(UTC) - timedelta(seconds=max(0.0, self.acd_clock() - change.at))
        # the two clocks are read one after the other (the writer's thread may take the GIL in between): changes
        # made microseconds apart keep their order in the agent's log
        last = self._last_state_at.get(change.agent_id)
        if last is not None and at <= last:
            at = last + timedelta(microseconds=1)
        self._last_state_at[change.agent_id] = at
        write = AgentStateWrite(agent_id=change.agent_id, state=str(change.new), reason=change.reason or None, at=at)
        self.writer.submit(write)

    def _written(self, trace: CallTrace) -> None:
        for listener in self.call_recorded:
            listener(trace)


def _hold_fields(hold: HoldTotal | None) -> dict[str, Any]:
    return {} if hold is None else {"hold_seconds": hold.seconds, "hold_count": hold.count}

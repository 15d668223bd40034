"""Call segments of the calls in progress: who had each call, from when to when, and how it passed on.

A segment opens when a queue bridges the caller to an agent (a bridge listener: the first is
``answered``, a later one, after a blind transfer to a queue, ``transfer``), when call control
completes an attended transfer (``consult``) or blind-transfers to ``agent:ID``/``number:N``
(``transfer``), and when a conference's third party answers (``conference``). It closes when that
party's part ends (``transferred``, ``left_conference``) or with the call (``hangup``). The engine
takes a call's segments when it writes the CDR and stores them in the same transaction: a call's
segments and its CDR are stored together or not at all (a segment refers to its CDR), and the report
never sees half a call. Hold is attributed to a segment as the call's hold while it was open.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from engine.acd.hold import HoldTotal
from engine.metrics import Metrics
from engine.store.segments import SegmentRecord


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Part:
    agent_id: str | None
    number: str | None
    queue: str | None
    how: str
    started_at: datetime
    hold_at_start: HoldTotal
    ended_at: datetime | None = None
    ended_by: str | None = None
    hold: HoldTotal = field(default_factory=HoldTotal)

    def record(self) -> SegmentRecord:
        assert self.ended_at is not None and self.ended_by is not None  # closed: finish() closes the rest
        return SegmentRecord(
            agent_id=self.agent_id,
            how=self.how,
            started_at=self.started_at,
            ended_at=self.ended_at,
            ended_by=self.ended_by,
            queue=self.queue,
            number=self.number,
            hold_seconds=self.hold.seconds,
            hold_count=self.hold.count,
        )

    def close(self, at: datetime, ended_by: str, hold: HoldTotal) -> None:
        self.ended_at, self.ended_by = max(at, self.started_at), ended_by
        seconds = max(0.0, hold.seconds - self.hold_at_start.seconds)
        self.hold = HoldTotal(seconds, max(0, hold.count - self.hold_at_start.count))


def party(target: str, target_agent: str | None = None) -> tuple[str | None, str | None]:
    """``(agent id, outside number)`` of a call-control target (``agent:ID``, ``number:N``)."""
    kind, _, name = target.partition(":")
    if target_agent is not None or kind == "agent":
        return target_agent or name, None
    return None, name if kind == "number" and name else None


class CallSegments:
    """The open and closed segments of each call bridged to an agent, until its CDR is written.

    ``hold_so_far(call_id)`` is the call's hold until now (``HoldWatch.so_far``)."""

    def __init__(
        self, hold_so_far: Callable[[str], HoldTotal], metrics: Metrics, *, clock: Callable[[], datetime] = _now
    ) -> None:
        self.hold_so_far, self.metrics, self.clock = hold_so_far, metrics, clock
        self._calls: dict[str, list[_Part]] = {}
        self._pending: dict[str, tuple[str | None, str | None, str | None]] = {}  # blind transfers: see transferred

    def bridged(self, call_id: str, agent_id: str, queue: str) -> None:
        """A bridge listener (:meth:`AcdShell.on_bridged`): a queue gave the call to ``agent_id``."""
        parts, at = self._calls.setdefault(call_id, []), self.clock()
        self._close(call_id, lambda _p: True, "transferred", at)
        self._open(call_id, agent_id, None, queue, "transfer" if parts else "answered", at)

    def adopted(self, call_id: str, agent_id: str, queue: str, since: datetime) -> None:
        """A restarted engine adopted the call bridged to ``agent_id`` since ``since`` (engine.runtime.adopt)."""
        self._open(call_id, agent_id, None, queue, "answered", since)

    def transferred(self, call_id: str, target: str) -> None:
        """The agent blind-transferred the call to ``target``: their part ends. An agent's extension or a
        number (FreeSWITCH's dialplan rings it) has its part from when the caller is bridged to it
        (:meth:`caller_bridged`): one that never answers has none. A queue's agent opens theirs when the
        queue bridges them; a flow is nobody's part."""
        if call_id not in self._calls:
            return
        self._close(call_id, lambda _p: True, "transferred", self.clock())
        agent_id, number = party(target)
        if agent_id or number:
            self._pending[call_id] = (agent_id, number, self._queue(call_id))

    def caller_bridged(self, call_id: str) -> None:
        """A listener of :meth:`AcdShell.on_bridge_seen`: the caller's channel was bridged; after a blind
        transfer to an extension or a number, that party has the call from now on."""
        if (pending := self._pending.pop(call_id, None)) is not None:
            self._open(call_id, *pending, "transfer", self.clock())

    def consult_completed(self, call_id: str, agent_id: str, target: str, target_agent: str | None) -> None:
        """An attended transfer was completed: the consulting agent's part ends, the target's begins."""
        if call_id not in self._calls:
            return
        at = self.clock()
        self._close(call_id, lambda p: p.agent_id == agent_id, "transferred", at)
        self._open(call_id, *party(target, target_agent), self._queue(call_id), "consult", at)

    def joined_conference(self, call_id: str, target: str, target_agent: str | None) -> None:
        """A conference's third party answered and is in the call's room."""
        if call_id in self._calls:
            self._open(call_id, *party(target, target_agent), self._queue(call_id), "conference", self.clock())

    def left_conference(self, call_id: str, target: str, target_agent: str | None = None) -> None:
        """``target`` (the agent who leaves, or the third party dropped or hanging up) left the room."""
        who = party(target, target_agent)
        self._close(call_id, lambda p: (p.agent_id, p.number) == who, "left_conference", self.clock())

    def finish(self, call_id: str, ended_at: datetime, hold: HoldTotal) -> list[SegmentRecord]:
        """The call is over (``hold``: its total): every open part ends with it; its segments, in the
        order they began, for the CDR's transaction; the call is forgotten."""
        parts = self._calls.pop(call_id, [])
        self._pending.pop(call_id, None)
        for part in parts:
            if part.ended_by is None:
                part.close(ended_at, "hangup", hold)
        records = [p.record() for p in parts]
        for record in records:
            self.metrics.call_segments.labels(record.how, record.ended_by).inc()
        return records

    def _open(
        self, call_id: str, agent_id: str | None, number: str | None, queue: str | None, how: str, at: datetime
    ) -> None:
        if agent_id or number:
            part = _Part(agent_id, number, queue, how, at, self.hold_so_far(call_id))
            self._calls.setdefault(call_id, []).append(part)

    def _close(self, call_id: str, whose: Callable[[_Part], bool], ended_by: str, at: datetime) -> None:
        hold = self.hold_so_far(call_id)
        for part in self._calls.get(call_id, []):
            if part.ended_by is None and whose(part):
                part.close(at, ended_by, hold)

    def _queue(self, call_id: str) -> str | None:
        parts = self._calls.get(call_id)
        return parts[-1].queue if parts else None

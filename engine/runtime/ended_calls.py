"""Calls that ended while no engine ran: recorded from what FreeSWITCH kept (issue 16, item 2).

The dialplan's ``hotline`` extension (dialplans/default.xml) sets each caller's ``api_hangup_hook``: when the
caller hangs up, FreeSWITCH itself stores the call's ``hotline_*`` variables, its end time and its hangup
cause in mod_hash (realm ``hotline_ended``, key: the caller's uuid, value: :data:`FIELDS` after ``v1``,
comma-separated). That is FreeSWITCH's memory: it needs neither a running engine nor a file on the
switch's host, and it is lost only when FreeSWITCH itself restarts.

:class:`EndedCalls` reads the realm (``hash_dump db hotline_ended``) once the control connection is up and
every ``sweep_seconds`` after. An entry whose call already has a CDR is deleted. An entry older than
``grace_seconds`` whose call has none (it ended while no engine ran) is recorded through the engine's usual
record path (CDR, interaction, its agent's segment), then deleted: ``answered`` when an agent had the call
(``hotline_agent`` and ``hotline_bridged_at`` on the channel), else ``abandoned`` (the caller left while
waiting, parked, or in the dialplan's fallback). An entry of a call that never queued (no
``hotline_queue``) is deleted unrecorded: hotline knows too little of it (docs/operations.md). Nothing is
swept while the database writer has records queued or the database is down: the call's CDR may be on its
way, and no call is recorded twice.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import gevent
from sqlalchemy import select

from engine.runtime.adopt_vars import SAFE, parse_time
from engine.runtime.call_session import CallTrace
from engine.runtime.supervise import supervised
from engine.store.models import Call, Customer
from engine.transport import CommandFailed, ESLError

if TYPE_CHECKING:
    from engine.metrics import Metrics
    from engine.runtime.hotline import Hotline

log = logging.getLogger(__name__)

REALM = "hotline_ended"
VERSION = "v1"
FIELDS = (
    "queue", "priority", "joined_at", "created_at", "flow", "caller", "customer_id", "agent", "bridged_at",
    "offered_at", "answered_at", "end_uepoch", "hangup_cause",
)  # fmt: skip
"""The hook's fields in order: the ``hotline_<name>`` channel variables, then FreeSWITCH's end time
(microseconds since the epoch) and hangup cause (dialplans/default.xml writes them)."""
LINE = re.compile(rf"D/{REALM}_([A-Za-z0-9-]{{1,64}})/(.*)")
CAUSE = re.compile(r"[A-Z_]{1,64}")
CHUNK = 500  # uuids per database lookup
RETRY_SECONDS = 1.0  # after a sweep skipped because the database writer was behind


class BadEntry(ValueError):
    """An entry that is not what the dialplan's hook writes (named in the message)."""


@dataclass(frozen=True)
class Ended:
    """One call FreeSWITCH saw end: its caller's uuid, the hook's fields, when it ended."""

    uuid: str
    values: dict[str, str]
    ended_at: datetime


@dataclass
class Swept:
    """What one sweep did (logged, counted, and for tests)."""

    recorded: list[str]
    known: int = 0  # had a CDR already: deleted
    unrecordable: int = 0  # never queued, or unreadable: deleted unrecorded
    kept: int = 0  # too recent, or still the engine's: looked at again next sweep
    skipped: bool = False  # the database writer was behind: nothing looked at


def parse(uuid: str, value: str) -> Ended:
    """An entry's value (``v1,<fields>``); :class:`BadEntry` names what is wrong."""
    version, _, rest = value.partition(",")
    if version != VERSION:
        raise BadEntry(f"{uuid}: version {version[:20]!r}, not {VERSION}")
    parts = rest.split(",")
    if len(parts) != len(FIELDS):
        raise BadEntry(f"{uuid}: {len(parts)} fields, not {len(FIELDS)}")
    values = dict(zip(FIELDS, parts, strict=True))
    for name, text in values.items():
        if text and not SAFE.fullmatch(text):
            raise BadEntry(f"{uuid}: field {name} is not what hotline writes")
    if values["hangup_cause"] and not CAUSE.fullmatch(values["hangup_cause"]):
        raise BadEntry(f"{uuid}: hangup cause {values['hangup_cause'][:40]!r}")
    if not values["end_uepoch"].isdigit() or len(values["end_uepoch"]) > 20:
        raise BadEntry(f"{uuid}: end time {values['end_uepoch'][:40]!r} is not microseconds")
    ended = datetime.fromtimestamp(int(values["end_uepoch"]) / 1e6, UTC)
    return Ended(uuid, values, ended)


def caller_of(encoded: str) -> str:
    """The caller's number from ``hotline_caller`` (base64url without padding, written with the caller's
    place: engine/runtime/reclaim.py); '' when absent or unreadable."""
    try:
        number = base64.urlsafe_b64decode((encoded + "=" * (-len(encoded) % 4)).encode("ascii")).decode("utf-8")
    except (ValueError, binascii.Error, UnicodeError):
        return ""
    return number if len(number) <= 64 and number.isprintable() else ""


def trace_of(entry: Ended) -> CallTrace | None:
    """The call trace of an entry, or None when it never queued (nothing worth a record)."""
    v = entry.values
    joined = parse_time(v["joined_at"])
    if not v["queue"] or joined is None:
        return None
    created = parse_time(v["created_at"]) or joined
    bridged, agent = parse_time(v["bridged_at"]), v["agent"]
    answered = bool(agent) and bridged is not None
    priority = int(v["priority"]) if re.fullmatch(r"-?\d{1,9}", v["priority"]) else 0
    customer = int(v["customer_id"]) if v["customer_id"].isdigit() and len(v["customer_id"]) < 18 else None
    trace = CallTrace(
        uuid=entry.uuid, caller=caller_of(v["caller"]), destination="", created_at=created,
        flow=v["flow"] or None, answered_at=parse_time(v["answered_at"]) or created, queue=v["queue"],
        priority=priority, queued_at=joined, offered_at=parse_time(v["offered_at"]),
        bridged_at=bridged if answered else None, agent_id=agent if answered else None,
        outcome="answered" if answered else "abandoned", hangup_cause=v["hangup_cause"],
        customer={"id": customer} if customer is not None else None,
    )  # fmt: skip
    trace.ended_at = entry.ended_at
    return trace


class EndedCalls:
    """Sweeps FreeSWITCH's ``hotline_ended`` realm; see the module docstring."""

    def __init__(
        self,
        control: Any,
        sessions: Callable[[], Any],
        finish_call: Callable[[CallTrace], None],
        metrics: Metrics,
        *,
        writer_ready: Callable[[], bool],
        live: Callable[[str], bool],
        opened: Callable[[CallTrace], None] = lambda _trace: None,
        sweep_seconds: float = 60.0,
        grace_seconds: float = 30.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """``finish_call`` records a call (the engine's record path); ``opened`` is told of each call about to
        be recorded (its agent's segment); ``live`` says whether the engine still has the call."""
        self.control, self.sessions, self.finish_call, self.metrics = control, sessions, finish_call, metrics
        self.writer_ready, self.live, self.opened, self.clock = writer_ready, live, opened, clock
        self.sweep_seconds, self.grace_seconds = sweep_seconds, grace_seconds
        self._greenlet: gevent.Greenlet | None = None

    @classmethod
    def of(cls, engine: Hotline) -> EndedCalls:
        """Wired to a :class:`~engine.runtime.hotline.Hotline`'s parts."""

        def opened(t: CallTrace) -> None:
            if t.agent_id and t.bridged_at is not None:
                engine.segments.adopted(t.uuid, t.agent_id, t.queue or "", t.bridged_at)

        cont = engine.config.continuity
        return cls(
            engine.control, engine.sessions, engine.records.record_call, engine.metrics,
            writer_ready=lambda: engine.writer.up and engine.writer.depth == 0,
            live=engine.acd.acd.has_call, opened=opened,
            sweep_seconds=cont.ended_sweep_seconds, grace_seconds=cont.ended_grace_seconds,
        )  # fmt: skip

    def start(self) -> None:
        self._greenlet = supervised("ended_calls", self._sweep_forever, self.metrics, backoff=(1.0, 30.0))

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(timeout=1)
            self._greenlet = None

    def _sweep_forever(self) -> None:
        while True:
            pause = self.sweep_seconds
            if self.control.wait_connected(self.sweep_seconds):
                try:
                    if self.sweep().skipped:  # e.g. agent states being written at start: try again soon
                        pause = min(pause, RETRY_SECONDS)
                except ESLError as exc:  # reconnecting: the next sweep tries again
                    log.info("ended calls: FreeSWITCH's hash not read: %s", exc)
            gevent.sleep(pause)  # the sweep's period

    def sweep(self) -> Swept:
        """One pass over the realm (see the module docstring)."""
        swept = Swept(recorded=[])
        if not self.writer_ready():
            swept.skipped = True
            return swept
        entries: list[Ended] = []
        try:
            dumped = self.control.api("hash_dump", "db", REALM)
        except CommandFailed as exc:  # "-ERR no reply": the realm is empty (an api with no output)
            if "no reply" not in str(exc):
                raise
            dumped = ""
        for line in dumped.splitlines():
            found = LINE.fullmatch(line.strip())
            if found is None:
                continue  # another realm's line (hash_dump filters by substring)
            try:
                entries.append(parse(found.group(1), found.group(2)))
            except BadEntry as exc:
                log.warning("ended calls: entry not recorded: %s", exc)
                self._delete(found.group(1), swept, "unrecordable")
        known = self._known([e.uuid for e in entries])
        now = self.clock()
        for entry in entries:
            if entry.uuid in known:
                self._delete(entry.uuid, swept, "known")
            elif self.live(entry.uuid) or (now - entry.ended_at).total_seconds() < self.grace_seconds:
                swept.kept += 1
            else:
                self._record(entry, swept)
        if swept.recorded or swept.unrecordable:
            log.info(
                "ended calls: %d recorded from FreeSWITCH (ended while no engine ran), %d unrecordable, %d known",
                len(swept.recorded), swept.unrecordable, swept.known,
            )  # fmt: skip
        return swept

    def _record(self, entry: Ended, swept: Swept) -> None:
        trace = trace_of(entry)
        if trace is None:
            self._delete(entry.uuid, swept, "unrecordable")
            return
        with self.sessions() as s:  # a customer removed since: recorded without
            if trace.customer and s.get(Customer, trace.customer["id"]) is None:
                trace.customer = None
        self.opened(trace)
        self.finish_call(trace)
        swept.recorded.append(trace.uuid)
        self._delete(entry.uuid, swept, "recorded")

    def _known(self, uuids: list[str]) -> set[str]:
        found: set[str] = set()
        with self.sessions() as s:
            for start in range(0, len(uuids), CHUNK):
                found |= set(s.scalars(select(Call.uuid).where(Call.uuid.in_(uuids[start : start + CHUNK]))))
        return found

    def _delete(self, uuid: str, swept: Swept, result: str) -> None:
        if result == "known":
            swept.known += 1
        elif result == "unrecordable":
            swept.unrecordable += 1
        self.metrics.switch_ended_calls.labels(result).inc()
        try:
            self.control.api("hash", f"delete/{REALM}/{uuid}")
        except ESLError as exc:  # looked at again next sweep (its CDR is there by then: deleted as known)
            log.info("ended calls: entry %s not deleted: %s", uuid, exc)

"""Compliance rules for one dial: DNC, local calling windows, abandon quarantine, retries and callbacks.

Decisions are pure functions of (contact, now, state); ``record_outcome`` and ``schedule_callback`` are the
only functions that change a ``ComplianceState``. ``now`` is always a time-zone aware datetime.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from engine.dialler.contacts import Contact, normalise_number
from engine.dialler.outcomes import CallOutcome

MIN_RING_SECONDS = 15.0


@dataclass(frozen=True)
class CallingWindow:
    """Local hours (start inclusive, end exclusive) and weekdays (Monday = 0) when a contact may be called."""

    start: time = time(8, 0)
    end: time = time(21, 0)
    weekdays: frozenset[int] = frozenset(range(7))

    def __post_init__(self) -> None:
        if self.start >= self.end:
            raise ValueError(f"calling window start {self.start} must be before end {self.end}")
        if not self.weekdays or not self.weekdays <= frozenset(range(7)):
            raise ValueError(f"calling window weekdays {sorted(self.weekdays)} must be a non-empty subset of 0..6")


@dataclass(frozen=True)
class RetryRule:
    """Wait ``interval`` before the next attempt; stop after ``max_attempts`` attempts with this outcome."""

    interval: timedelta
    max_attempts: int


DEFAULT_RETRIES: dict[CallOutcome, RetryRule] = {
    CallOutcome.BUSY: RetryRule(timedelta(minutes=15), 5),
    CallOutcome.NO_ANSWER: RetryRule(timedelta(hours=2), 4),
    CallOutcome.MACHINE: RetryRule(timedelta(hours=4), 3),
    CallOutcome.FAILED: RetryRule(timedelta(minutes=30), 2),
    CallOutcome.ABANDONED: RetryRule(timedelta(hours=72), 2),
}


@dataclass(frozen=True)
class ComplianceSettings:
    """Per-campaign compliance settings (see docs/outbound.md)."""

    window: CallingWindow = CallingWindow()
    min_ring_seconds: float = MIN_RING_SECONDS
    abandon_quarantine: timedelta = timedelta(hours=72)
    retries: dict[CallOutcome, RetryRule] = field(default_factory=lambda: dict(DEFAULT_RETRIES))

    def __post_init__(self) -> None:
        if self.min_ring_seconds < MIN_RING_SECONDS:
            raise ValueError(f"min_ring_seconds {self.min_ring_seconds} is below the legal {MIN_RING_SECONDS}")


@dataclass
class ContactHistory:
    """What compliance remembers about one number."""

    attempts: dict[CallOutcome, int] = field(default_factory=dict)
    not_before: datetime | None = None
    closed: str | None = None
    abandoned_at: datetime | None = None
    callback_at: datetime | None = None


@dataclass
class DncList:
    """Do-not-call numbers (E.164): the campaign's internal list and named imported lists."""

    internal: set[str] = field(default_factory=set)
    imported: dict[str, frozenset[str]] = field(default_factory=dict)

    def source_of(self, number: str) -> str | None:
        """The list that blocks ``number``, or None."""
        if number in self.internal:
            return "internal"
        return next((name for name, numbers in self.imported.items() if number in numbers), None)


@dataclass
class ComplianceState:
    """Settings, DNC lists and per-number history for one campaign."""

    settings: ComplianceSettings = field(default_factory=ComplianceSettings)
    dnc: DncList = field(default_factory=DncList)
    history: dict[str, ContactHistory] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


def load_dnc(path: Path | str, region: str) -> frozenset[str]:
    """A DNC file, one number per line ('#' comments allowed); ValueError naming file and line when invalid."""
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ValueError(f"{path}: line {line}: not UTF-8 text") from None
    return parse_dnc(text.splitlines(), region, str(path))


def parse_dnc(lines: Iterable[str], region: str, name: str = "<dnc>") -> frozenset[str]:
    """DNC lines as E.164 numbers; ValueError naming ``name`` and the line of the first invalid entry."""
    numbers: set[str] = set()
    for lineno, line in enumerate(lines, 1):
        entry = line.split("#", 1)[0].strip()
        if entry:
            try:
                numbers.add(normalise_number(entry, region))
            except ValueError as exc:
                raise ValueError(f"{name}: line {lineno}: number: {exc}") from exc
    return frozenset(numbers)


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be time-zone aware, got {now!r}")


def _open_in(window: CallingWindow, local: datetime) -> bool:
    return local.weekday() in window.weekdays and window.start <= local.time() < window.end


def in_window(contact: Contact, now: datetime, window: CallingWindow) -> bool:
    """True when ``now`` is inside the window in every one of the contact's time zones."""
    _require_aware(now)
    return all(_open_in(window, now.astimezone(ZoneInfo(tz))) for tz in contact.time_zones)


def _next_open_in_zone(window: CallingWindow, t: datetime, tz: str) -> datetime:
    local = t.astimezone(ZoneInfo(tz))
    if _open_in(window, local):
        return t
    for days in range(8):
        day = local.date() + timedelta(days=days)
        opening = datetime.combine(day, window.start, tzinfo=ZoneInfo(tz))
        if day.weekday() in window.weekdays and opening >= local:
            return opening.astimezone(t.tzinfo)
    raise AssertionError("a non-empty weekday set opens within 8 days")


def next_window_open(contact: Contact, t: datetime, window: CallingWindow) -> datetime:
    """The earliest time at or after ``t`` when the window is open in all the contact's zones."""
    _require_aware(t)
    for _ in range(16):
        candidate = max(_next_open_in_zone(window, t, tz) for tz in contact.time_zones)
        if in_window(contact, candidate, window):
            return candidate
        t = candidate + timedelta(minutes=1)
    raise ValueError(f"{contact.number}: the zones {contact.time_zones} never share an open calling window")


def may_dial(contact: Contact, now: datetime, state: ComplianceState, *, agent_reserved: bool = False) -> Decision:
    """Whether ``contact`` may be dialled at ``now``; the reason names the rule that decided.

    ``agent_reserved`` is True when an agent is waiting for this very call (preview/progressive); it lifts the
    post-abandon quarantine, nothing else.
    """
    _require_aware(now)
    listed = state.dnc.source_of(contact.number)
    if listed is not None:
        return Decision(False, f"on the {listed} do-not-call list")
    if not in_window(contact, now, state.settings.window):
        return Decision(False, f"outside the calling window in {', '.join(contact.time_zones)}")
    history = state.history.get(contact.number)
    if history is None:
        return Decision(True, "first attempt")
    if history.closed:
        return Decision(False, history.closed)
    if history.callback_at is not None:
        if now < history.callback_at:
            return Decision(False, f"callback scheduled for {history.callback_at.isoformat()}")
        return Decision(True, "callback due")
    quarantine_end = history.abandoned_at + state.settings.abandon_quarantine if history.abandoned_at else None
    if quarantine_end is not None and now < quarantine_end and not agent_reserved:
        until = quarantine_end.isoformat()
        return Decision(False, f"abandoned call: no re-dial before {until} without a reserved agent")
    if history.not_before is not None and now < history.not_before:
        return Decision(False, f"retry not before {history.not_before.isoformat()}")
    return Decision(True, "retry due")


def next_attempt(contact: Contact, outcome: CallOutcome, now: datetime, state: ComplianceState) -> datetime | None:
    """When the contact may be tried again after ``outcome`` at ``now`` (None: never, by the retry rules).

    The attempt that just ended counts; the result is moved into the contact's next open calling window.
    """
    _require_aware(now)
    rule = state.settings.retries.get(outcome)
    if rule is None:
        return None
    history = state.history.get(contact.number, ContactHistory())
    if history.attempts.get(outcome, 0) + 1 >= rule.max_attempts:
        return None
    return next_window_open(contact, now + rule.interval, state.settings.window)


def record_outcome(contact: Contact, outcome: CallOutcome, now: datetime, state: ComplianceState) -> ContactHistory:
    """Update the number's history with an attempt's outcome and return it."""
    when = next_attempt(contact, outcome, now, state)
    history = state.history.setdefault(contact.number, ContactHistory())
    history.attempts[outcome] = history.attempts.get(outcome, 0) + 1
    history.callback_at = None
    if outcome is CallOutcome.ABANDONED:
        history.abandoned_at = now
    if when is None:
        history.closed = f"{outcome.value}: no further attempts"
    history.not_before = when
    return history


def schedule_callback(contact: Contact, at: datetime, state: ComplianceState) -> None:
    """An agent-set callback: the number is not dialled before ``at``, then it is due (window and DNC still apply)."""
    _require_aware(at)
    history = state.history.setdefault(contact.number, ContactHistory())
    history.callback_at = at
    history.closed = None


def originate_timeout(requested_s: float, settings: ComplianceSettings) -> float:
    """The ring timeout to originate with: never shorter than the minimum ring time."""
    return max(requested_s, settings.min_ring_seconds)

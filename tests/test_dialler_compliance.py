from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.dialler.compliance import (
    CallingWindow,
    ComplianceSettings,
    ComplianceState,
    DncList,
    RetryRule,
    in_window,
    may_dial,
    next_attempt,
    next_window_open,
    originate_timeout,
    parse_dnc,
    record_outcome,
    schedule_callback,
)
from engine.dialler.contacts import Contact
from engine.dialler.outcomes import CallOutcome

LONDON = Contact("+442079460018", ("Europe/London",), {}, 2)
NEW_YORK = Contact("+12125550100", ("America/New_York",), {}, 3)
SPLIT = Contact("+19995550100", ("America/New_York", "America/Los_Angeles"), {}, 4)
WEEKDAYS = CallingWindow(time(8), time(21), frozenset(range(5)))
MONDAY_NOON_UTC = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)


def test_window_is_local_time() -> None:
    state = ComplianceState(ComplianceSettings(window=WEEKDAYS))
    assert may_dial(LONDON, MONDAY_NOON_UTC, state).allowed
    early = datetime(2024, 5, 6, 11, 30, tzinfo=UTC)  # 07:30 in New York
    decision = may_dial(NEW_YORK, early, state)
    assert not decision.allowed and "America/New_York" in decision.reason
    saturday = datetime(2024, 5, 11, 12, 0, tzinfo=UTC)
    assert not may_dial(LONDON, saturday, state).allowed


def test_multi_zone_contact_needs_every_zone_open() -> None:
    window = CallingWindow()
    at = datetime(2024, 5, 6, 14, 30, tzinfo=UTC)  # 10:30 New York, 07:30 Los Angeles
    assert not in_window(SPLIT, at, window)
    opening = next_window_open(SPLIT, at, window)
    assert opening == datetime(2024, 5, 6, 8, 0, tzinfo=ZoneInfo("America/Los_Angeles"))


def test_dnc_internal_and_imported() -> None:
    imported = parse_dnc(["# national list", "020 7946 0018"], "GB", "tps.txt")
    state = ComplianceState(dnc=DncList(imported={"tps": imported}))
    assert may_dial(LONDON, MONDAY_NOON_UTC, state).reason == "on the tps do-not-call list"
    state.dnc.internal.add(NEW_YORK.number)
    assert may_dial(NEW_YORK, MONDAY_NOON_UTC, state).reason == "on the internal do-not-call list"


def test_bad_dnc_line_is_named() -> None:
    with pytest.raises(ValueError, match=r"tps.txt: line 2: number: "):
        parse_dnc(["+442079460018", "12"], "GB", "tps.txt")


def test_abandon_quarantine_unless_agent_reserved() -> None:
    state = ComplianceState()
    record_outcome(LONDON, CallOutcome.ABANDONED, MONDAY_NOON_UTC, state)
    later = MONDAY_NOON_UTC + timedelta(hours=1)
    assert "abandoned call" in may_dial(LONDON, later, state).reason
    assert not may_dial(LONDON, later, state, agent_reserved=True).allowed  # retry interval still applies
    state.history[LONDON.number].not_before = None
    assert may_dial(LONDON, later, state, agent_reserved=True).allowed


def test_retry_intervals_and_max_attempts() -> None:
    settings = ComplianceSettings(retries={CallOutcome.BUSY: RetryRule(timedelta(minutes=10), 2)})
    state = ComplianceState(settings)
    first = next_attempt(LONDON, CallOutcome.BUSY, MONDAY_NOON_UTC, state)
    assert first == MONDAY_NOON_UTC + timedelta(minutes=10)
    record_outcome(LONDON, CallOutcome.BUSY, MONDAY_NOON_UTC, state)
    assert not may_dial(LONDON, MONDAY_NOON_UTC + timedelta(minutes=5), state).allowed
    assert may_dial(LONDON, MONDAY_NOON_UTC + timedelta(minutes=10), state).allowed
    assert next_attempt(LONDON, CallOutcome.BUSY, MONDAY_NOON_UTC, state) is None
    record_outcome(LONDON, CallOutcome.BUSY, MONDAY_NOON_UTC, state)
    assert may_dial(LONDON, MONDAY_NOON_UTC + timedelta(days=1), state).reason == "busy: no further attempts"
    assert next_attempt(LONDON, CallOutcome.MACHINE, MONDAY_NOON_UTC, state) is None  # no rule


def test_retry_moves_into_next_window() -> None:
    state = ComplianceState(ComplianceSettings(window=WEEKDAYS))
    friday_evening = datetime(2024, 5, 10, 19, 30, tzinfo=ZoneInfo("Europe/London"))
    when = next_attempt(LONDON, CallOutcome.NO_ANSWER, friday_evening, state)
    assert when == datetime(2024, 5, 13, 8, 0, tzinfo=ZoneInfo("Europe/London"))


def test_callback() -> None:
    state = ComplianceState()
    at = MONDAY_NOON_UTC + timedelta(hours=3)
    schedule_callback(LONDON, at, state)
    assert "callback scheduled" in may_dial(LONDON, MONDAY_NOON_UTC, state).reason
    assert may_dial(LONDON, at, state).reason == "callback due"


def test_minimum_ring_time() -> None:
    assert originate_timeout(10, ComplianceSettings()) == 15.0
    assert originate_timeout(25, ComplianceSettings()) == 25
    with pytest.raises(ValueError, match="below the legal"):
        ComplianceSettings(min_ring_seconds=10)


def test_naive_time_rejected() -> None:
    with pytest.raises(ValueError, match="time-zone aware"):
        may_dial(LONDON, datetime(2024, 5, 6, 12), ComplianceState())


instants = st.datetimes(datetime(2024, 1, 1), datetime(2025, 12, 31), timezones=st.just(UTC))
zones = st.sampled_from(["Europe/London", "America/New_York", "Asia/Tokyo", "Australia/Sydney", "America/Denver"])


@settings(max_examples=200, deadline=None)
@given(instants, zones, st.integers(0, 12), st.integers(13, 23), st.booleans())
def test_never_allowed_outside_local_window(now: datetime, zone: str, start: int, end: int, dnc: bool) -> None:
    contact = Contact("+442079460018", (zone,), {}, 2)
    state = ComplianceState(ComplianceSettings(window=CallingWindow(time(start), time(end), frozenset(range(5)))))
    if dnc:
        state.dnc.internal.add(contact.number)
    decision = may_dial(contact, now, state)
    local = now.astimezone(ZoneInfo(zone))
    if decision.allowed:
        assert not dnc
        assert local.weekday() < 5 and time(start) <= local.time() < time(end)
    opening = next_window_open(contact, now, state.settings.window)
    assert opening >= now and in_window(contact, opening, state.settings.window)

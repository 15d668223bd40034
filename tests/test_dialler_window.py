"""engine.dialler.window.RollingTally: counts over a rolling window."""

from __future__ import annotations

import pytest

from engine.dialler.window import RollingTally


def test_events_count_until_they_are_older_than_the_span() -> None:
    tally = RollingTally(100.0)
    tally.add(0.0, True)
    tally.add(10.0, False)
    tally.add(50.0, True)
    assert tally.counts(50.0) == (3, 2)
    assert tally.counts(99.9) == (3, 2)
    assert tally.counts(100.0) == (2, 1)  # the event at 0 is a full span old
    assert tally.counts(110.0) == (1, 1)
    tally.add(120.0, False)
    assert tally.counts(150.0) == (1, 0)
    assert tally.counts(10_000.0) == (0, 0)


def test_a_span_must_be_positive() -> None:
    with pytest.raises(ValueError, match="span must be positive"):
        RollingTally(0.0)

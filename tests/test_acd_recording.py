"""The recording sample: all, none, about the share asked, stable per call."""

from __future__ import annotations

import pytest

from engine.acd.recording import recording_reason, sampled

IDS = [f"call-{i}" for i in range(4000)]


@pytest.mark.parametrize(("percent", "low", "high"), [(0, 0, 0), (100, 4000, 4000), (25, 900, 1100), (2.5, 60, 140)])
def test_share_of_calls_sampled(percent: float, low: int, high: int) -> None:
    assert low <= sum(sampled(i, percent) for i in IDS) <= high


def test_the_same_call_gets_the_same_answer() -> None:
    assert [sampled(i, 30) for i in IDS[:50]] == [sampled(i, 30) for i in IDS[:50]]


def test_a_rule_comes_before_the_queue_sample() -> None:
    assert recording_reason("call-1", 0, [7, 9]) == "rule 7"
    assert recording_reason("call-1", 100, []) == "policy"
    assert recording_reason("call-1", 0, []) is None

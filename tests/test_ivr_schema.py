"""Field types of the flow language: durations, time ranges, weekdays, holidays, prompts."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from engine.ivr.schema import Case, CollectStep, FlowDoc, MenuStep, PromptItem


def test_durations() -> None:
    step = CollectStep.model_validate({"collect": "x", "into": "v", "timeout": "1.5s", "inter_digit": "700ms"})
    assert (step.timeout, step.inter_digit) == (1500, 700)
    assert CollectStep.model_validate({"collect": "x", "into": "v", "timeout": 4}).timeout == 4000
    with pytest.raises(ValidationError, match="should be written like 5s"):
        CollectStep.model_validate({"collect": "x", "into": "v", "timeout": "soon"})


def test_time_ranges_weekdays_and_wrapping() -> None:
    case = Case.model_validate({"time": ["08:00-12:00", "22:00-06:00"], "weekday": "fri-mon", "goto": "x"})
    assert case.time == ((480, 720), (1320, 360))
    assert case.weekday == frozenset({4, 5, 6, 0})
    with pytest.raises(ValidationError, match="impossible time"):
        Case.model_validate({"time": "24:30-25:00", "goto": "x"})
    with pytest.raises(ValidationError, match="needs at least one of"):
        Case.model_validate({"goto": "x"})


def test_prompts_accept_text_files_and_mappings() -> None:
    menu = MenuStep.model_validate(
        {
            "menu": ["Hello", "intro.wav", "tone_stream://%(100,0,800)", {"say": "12.50", "as": "amount"}],
            "choices": [{"words": "sales", "goto": "s"}],
        }
    )
    assert menu.menu == (
        PromptItem(say="Hello"),
        PromptItem(play="intro.wav"),
        PromptItem(play="tone_stream://%(100,0,800)"),
        PromptItem.model_validate({"say": "12.50", "as": "amount"}),
    )
    assert menu.choices[0].words == ("sales",)
    with pytest.raises(ValidationError, match="exactly one of"):
        PromptItem.model_validate({"say": "a", "play": "b.wav"})


def test_holidays_and_variable_names() -> None:
    doc = FlowDoc.model_validate({"holidays": ["12-25", "2024-05-27"], "nodes": {"a": {"hangup": "X"}}})
    assert doc.holidays == ("12-25", "2024-05-27")
    with pytest.raises(ValidationError):
        FlowDoc.model_validate({"variables": {"Bad Name": 1}, "nodes": {"a": {}}})

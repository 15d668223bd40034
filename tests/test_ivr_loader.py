"""Loading YAML with positions, schema errors mapped to lines, all-or-nothing directory loading."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.ivr.errors import FlowValidationError
from engine.ivr.loader import load_flow, load_flows, parse_flow
from engine.ivr.schema import MenuStep

GOOD = """flow: tiny
nodes:
  m:
    menu: Press 1
    choices:
      - key: 1
        goto: bye
    on_failure: bye
  bye:
    hangup: NORMAL_CLEARING
"""


def test_every_value_and_key_keeps_its_position() -> None:
    flow, errors = parse_flow(GOOD, "tiny.yaml")
    assert errors == [] and flow is not None
    assert flow.source.locate(("nodes", "m", "choices", 0, "goto")) == (7, 15)
    assert flow.source.locate(("nodes", "bye"), key=True) == (9, 3)
    assert isinstance(flow.main.nodes["m"], MenuStep)
    assert flow.main.start == "m" and flow.name == "tiny"


def test_fall_through_follows_file_order() -> None:
    flow, _ = parse_flow("nodes:\n  a:\n    say: x\n  b:\n    say: y\n    next: a\n  c:\n    hangup: X\n", "f")
    assert flow.main.following == {"a": "b", "b": "a", "c": None}


def test_several_schema_errors_are_all_reported() -> None:
    _, errors = parse_flow(
        "nodes:\n  a:\n    say: 1\n    colour: red\n  b:\n    queue: q\n    priority: high\n", "f.yaml"
    )
    assert [str(e) for e in errors] == [
        "f.yaml:4:5: nodes.a.colour: unknown field 'colour'",
        "f.yaml:7:15: nodes.b.priority: Input should be a valid integer, unable to parse string as an integer",
    ]


def test_empty_file() -> None:
    _, errors = parse_flow("", "e.yaml")
    assert str(errors[0]) == "e.yaml:1:1: <top>: file is empty"


def test_load_flows_is_all_or_nothing(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(GOOD)
    (tmp_path / "other.yaml").write_text("nodes:\n  t:\n    transfer: flow\n    to: tiny\n")
    assert set(load_flows(tmp_path)) == {"tiny", "other"}
    (tmp_path / "bad.yaml").write_text("nodes:\n  a:\n    goto: nowhere\n")
    with pytest.raises(FlowValidationError) as exc:
        load_flows(tmp_path)
    assert [str(e) for e in exc.value.errors] == [
        f"{tmp_path / 'bad.yaml'}:3:11: nodes.a.goto: unknown goto target 'nowhere'"
    ]


def test_duplicate_flow_names_and_unknown_transfer_flows(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(GOOD)
    with pytest.raises(FlowValidationError, match="flow name 'tiny' is used twice"):
        load_flows(tmp_path)
    single = tmp_path / "single.yaml"
    single.write_text("nodes:\n  t:\n    transfer: flow\n    to: elsewhere\n")
    with pytest.raises(FlowValidationError, match="unknown flow 'elsewhere'"):
        load_flows(single)
    assert load_flow(single).name == "single"  # a lone file cannot know the other flows

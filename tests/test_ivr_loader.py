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


# ---- hostile files: every one refused with the file and its line, never a traceback (issue 12) --------

from engine.config import yamlsafe  # noqa: E402


def _laughs(levels: int = 9) -> str:
    """The 'billion laughs': level i (on line i + 2) names level i - 1 nine times: 9**(i+1) values.

    Level 5 (line 7, its anchor at column 7) is the first over the budget of 100,000: 531,441."""
    lines = ["variables:", "  l0: &l0 [ha, ha, ha, ha, ha, ha, ha, ha, ha]"]
    for i in range(1, levels + 1):
        lines.append(f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]")
    return "\n".join([*lines, "nodes:", "  bye:", "    hangup: NORMAL_CLEARING", ""])


HOSTILE = {
    "laughs.yaml": (_laughs().encode(), r":7:7: <top>: expands to more than 100000 values through its aliases"),
    "deep_flow.yaml": (b"nodes: " + b"[" * 5000 + b"]" * 5000, r":1:\d+: <top>: .*nest.*"),
    "deep_block.yaml": (
        "".join("  " * i + f"k{i}:\n" for i in range(300)).encode(),
        r":65:129: <top>: nested deeper than 64 levels",
    ),
    "alias_chain.yaml": (
        ("a0: &a0 [x]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 80))).encode(),
        r":\d+:\d+: <top>: nested deeper than 64 levels through its aliases",
    ),
    "self.yaml": (
        b"nodes: &n\n  a:\n    say: *n\n",
        r":1:8: <top>: an alias refers to the collection that contains it",
    ),
    "latin1.yaml": ("flow: caf\u00e9\nnodes: {}\n".encode("latin-1"), r":1:10: <top>: not UTF-8 text \(byte 0xe9\)"),
    "nul.yaml": (
        b"flow: x\nnodes:\n  a:\n    say: a\x00b\n",
        r":4:11: <top>: character U\+0000 is not allowed in YAML",
    ),
    "aliases.yaml": (
        b"a: &a x\nb: [" + b", ".join([b"*a"] * 300) + b"]\n",
        r":2:\d+: <top>: more than 256 aliases",
    ),
    "big.yaml": (b"# " + b"x" * (1024 * 1024) + b"\n", r": file is larger than 1048576 bytes"),
}


@pytest.fixture(params=["libyaml", "pure-python"])
def yaml_loader(request, monkeypatch):
    """Both PyYAML back ends: libyaml when installed, and the pure-Python one hotline falls back to."""
    if request.param == "libyaml":
        if not hasattr(__import__("yaml"), "CSafeLoader"):
            pytest.skip("libyaml is not installed")
    else:
        monkeypatch.setattr(yamlsafe, "_Loader", __import__("yaml").SafeLoader)
    return request.param


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_flow_file_is_refused_with_file_and_line(tmp_path: Path, name: str, yaml_loader: str) -> None:
    data, expected = HOSTILE[name]
    (tmp_path / name).write_bytes(data)
    (tmp_path / "good.yaml").write_text(GOOD)
    with pytest.raises(FlowValidationError) as exc:
        load_flows(tmp_path)  # the directory loads all or nothing: the good flow is not loaded either
    [error] = exc.value.errors
    assert error.file == str(tmp_path / name)
    assert __import__("re").fullmatch(__import__("re").escape(str(tmp_path / name)) + expected, str(error)), str(error)


def test_the_expansion_is_measured_once_per_node_not_per_value(monkeypatch) -> None:
    """The budget is checked without expanding: 'billion laughs' costs as many visits as it has nodes."""
    visits = []
    measure = yamlsafe._Expansion.measure
    monkeypatch.setattr(yamlsafe._Expansion, "measure", lambda self, n, d: visits.append(n) or measure(self, n, d))
    with pytest.raises(yamlsafe.YamlRefused):
        yamlsafe.compose(_laughs(), "laughs.yaml")
    assert len(visits) < 200  # 9 levels of 10 nodes plus the rest of the file; 9**9 values if expanded


def test_anchors_within_the_budget_still_work(tmp_path: Path) -> None:
    path = tmp_path / "shared.yaml"
    path.write_text(
        "nodes:\n  m:\n    menu: Press 1\n    choices: &choices\n      - key: 1\n        goto: bye\n"
        "    on_failure: n\n  n:\n    menu: Again\n    choices: *choices\n    on_failure: bye\n"
        "  bye:\n    hangup: NORMAL_CLEARING\n"
    )
    flow = load_flow(path)
    assert flow.main.nodes["n"].choices == flow.main.nodes["m"].choices


def test_a_missing_path_or_an_empty_directory_is_one_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(FlowValidationError) as exc:
        load_flows(tmp_path / "nope.yaml")
    assert str(exc.value) == f"{tmp_path / 'nope.yaml'}: cannot read: No such file or directory"
    with pytest.raises(FlowValidationError) as exc:
        load_flows(tmp_path)
    assert str(exc.value) == f"{tmp_path}: no flow files (*.yaml, *.yml) here"

"""Provisioning files as read from disk: what cannot be read is refused with its place, never half-read."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.store.provisioning_files import ProvisioningRefused, read_records, write_records


def _refused(tmp_path: Path, name: str, data: bytes, kind: str = "agent") -> ProvisioningRefused:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ProvisioningRefused) as refused:
        _records, problems = read_records(path, kind)
        if problems:
            raise ProvisioningRefused(str(path), problems)
    return refused.value


def test_csv_fields_carry_the_line_their_record_starts_on(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text('id,name,skills\n\n1001,"Grace\nHopper",support=7; billing = 3\n1002,Ada,\n', encoding="utf-8")
    records, problems = read_records(path, "agent")
    assert problems == []
    assert [(r.line, r.values) for r in records] == [
        (3, {"id": "1001", "name": "Grace\nHopper", "skills": {"support": "7", "billing": "3"}}),
        (5, {"id": "1002", "name": "Ada", "skills": {}}),
    ]


def test_yaml_fields_carry_their_own_line(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("- id: 1001\n\n  name: Grace\n- {id: '1002'}\n", encoding="utf-8")
    records, _ = read_records(path, "agent")
    assert [(r.line, r.line_of("name"), r.values) for r in records] == [
        (1, 3, {"id": 1001, "name": "Grace"}),
        (4, 4, {"id": "1002"}),
    ]


@pytest.mark.parametrize(
    ("name", "data", "where", "says"),
    [
        ("a.csv", b"id,name\n1001,Gr\xe9ce\n", "a.csv:2: file", "not UTF-8"),
        ("a.csv", b'id,name\n1001,"Grace\n1002,Ada\n', "a.csv:2: csv", "unexpected end of data"),
        ("a.csv", b"id,name\n1001," + b"x" * 5000 + b"\n", "a.csv:2: csv", "field larger than field limit"),
        ("a.csv", b"name,contact\nGrace,user/1001\n", "a.csv:1: id", "missing column"),
        ("a.csv", b"id,id\n1001,1002\n", "a.csv:1: id", "column given twice"),
        ("a.csv", b"id,name\n1001,Grace,extra\n", "a.csv:2: row", "3 fields, the header has 2"),
        ("a.csv", b"id,skills\n1001,support:7\n", "a.csv:2: skills", "expected SKILL=LEVEL"),
        ("a.csv", b"id,skills\n1001,a=1;a=2\n", "a.csv:2: skills.a", "given twice"),
        ("a.csv", b"", "a.csv:1: header", "missing"),
        ("a.yaml", b"agents: {id: 1001}\n", "a.yaml:1: yaml", "expected a list of agents"),
        ("a.yaml", b"- 1001\n", "a.yaml:1: agent", "expected a mapping"),
        ("a.yaml", b"- id: [1001]\n", "a.yaml:1: id", "expected a single value"),
        ("a.yaml", b"- id: 1001\n  skills: [support]\n", "a.yaml:2: skills", "expected a mapping"),
        ("a.yaml", b"- id: 1001\n  id: 1002\n", "a.yaml:2: id", "given twice"),
        ("a.yaml", b"- id: 1001\n  name: 'open\n", "a.yaml:3: yaml", "not valid YAML"),
        ("a.yaml", b"- &a [*a]\n", "a.yaml:1: yaml", "alias refers to the collection"),
        ("a.txt", b"id\n1001\n", "a.txt: file", "must end in .csv, .yaml or .yml"),
    ],
)
def test_an_unreadable_file_or_field_is_named_with_its_line(
    tmp_path: Path, name: str, data: bytes, where: str, says: str
) -> None:
    refused = _refused(tmp_path, name, data)
    rendered = [p.render(name) for p in refused.problems]
    assert any(r.startswith(where) and says in r for r in rendered), rendered
    assert str(refused).startswith(f"{tmp_path / name}: nothing was changed")


def test_a_yaml_bomb_is_refused_before_it_expands(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join(f'*a{i - 1}' for _ in range(10))}]" for i in range(1, 9)]
    refused = _refused(tmp_path, "bomb.yaml", "\n".join(lines).encode())
    assert "expands to more than" in refused.problems[0].message


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ProvisioningRefused, match="cannot read"):
        read_records(tmp_path / "absent.csv", "skill")


def test_an_export_replaces_the_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text("old\n" * 1000)
    rows = [{"name": "sales", "strategy": "round_robin", "wrap_up_seconds": 5, "max_wait_seconds": 60, "skills": {}}]
    assert write_records(path, "queue", rows) == 1
    assert path.read_text() == "name,strategy,wrap_up_seconds,max_wait_seconds,skills\nsales,round_robin,5,60,\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q.csv"]

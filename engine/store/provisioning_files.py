"""Provisioning files: agents, skills and queues as CSV or YAML records, read with the line of every field.

The format is chosen by the file's extension (``.csv``, ``.yaml``/``.yml``). A CSV file has a header
row naming its columns; a YAML file is a list of mappings, or a mapping with one key (``agents``,
``skills``, ``queues``) holding that list. Skill levels are ``skill=level`` pairs joined by ``;`` in
CSV (``support=7;billing=3``) and a mapping in YAML (``skills: {support: 7}``).

Whatever cannot be read (not UTF-8, a quote left open, an unknown column or key, a value of the wrong
shape) is a :class:`RowProblem` naming the line and the field; the file is never half-read.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from engine.config import yamlsafe
from engine.store.errors import StoreError

MAX_CSV_BYTES = 16 * 1024 * 1024
FIELD_LIMIT = 4096
PLURAL = {"agent": "agents", "skill": "skills", "queue": "queues"}
COLUMNS: dict[str, tuple[str, ...]] = {
    "agent": ("id", "name", "contact", "skills"),
    "skill": ("name",),
    "queue": ("name", "strategy", "wrap_up_seconds", "max_wait_seconds", "skills"),
}
"""Every column (CSV) or key (YAML) of each kind, in export order; the first is the record's key."""
FORMATS = {".csv": "csv", ".yaml": "yaml", ".yml": "yaml"}


@dataclass(frozen=True, order=True)
class RowProblem:
    """What is wrong with one field of one record (``line`` 0: the file as a whole)."""

    line: int
    field: str
    message: str

    def render(self, file: str) -> str:
        where = f"{file}:{self.line}" if self.line else file
        return f"{where}: {self.field}: {self.message}"


class ProvisioningRefused(StoreError, ValueError):
    """A provisioning file that was not applied at all; the message lists every problem, one a line."""

    def __init__(self, file: str, problems: Sequence[RowProblem]) -> None:
        self.file = file
        self.problems = sorted(problems)
        rows = len({p.line for p in self.problems})
        lines = "\n".join(f"  {p.render(file)}" for p in self.problems)
        super().__init__(f"{file}: nothing was changed: {len(self.problems)} problem(s) in {rows} row(s):\n{lines}")


@dataclass(frozen=True)
class Record:
    """One agent, skill or queue as the file gives it: only the fields present, each with its line."""

    line: int
    values: dict[str, Any]
    lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, name: str) -> int:
        return self.lines.get(name, self.line)


def file_format(path: str | Path) -> str:
    """``csv`` or ``yaml`` from the extension; ProvisioningRefused otherwise."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise ProvisioningRefused(str(path), [RowProblem(0, "file", "the name must end in .csv, .yaml or .yml")])
    return fmt


def read_records(path: str | Path, kind: str) -> tuple[list[Record], list[RowProblem]]:
    """The records of one provisioning file of ``kind`` (agent, skill, queue) and the problems of those
    that could not be read (an unknown column or key, a value of the wrong shape); ProvisioningRefused
    when the file cannot be read at all."""
    file = str(path)
    fmt = file_format(path)
    if fmt == "yaml":
        try:
            root = yamlsafe.compose(yamlsafe.read_text(path), file)
        except yamlsafe.YamlRefused as exc:
            raise ProvisioningRefused(file, [RowProblem(exc.line, "yaml", exc.message)]) from None
        return _yaml_records(root, kind, file)
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_CSV_BYTES + 1)
    except OSError as exc:
        raise ProvisioningRefused(file, [RowProblem(0, "file", f"cannot read: {exc.strerror or exc}")]) from None
    if len(data) > MAX_CSV_BYTES:
        raise ProvisioningRefused(file, [RowProblem(0, "file", f"larger than {MAX_CSV_BYTES} bytes")])
    try:
        text = yamlsafe.decode(data, file)
    except yamlsafe.YamlRefused as exc:
        raise ProvisioningRefused(file, [RowProblem(exc.line, "file", exc.message)]) from None
    return _csv_records(text, kind, file)


def _csv_records(text: str, kind: str, file: str) -> tuple[list[Record], list[RowProblem]]:
    previous = csv.field_size_limit(FIELD_LIMIT)  # process-wide in the csv module: restored below
    reader = csv.reader(io.StringIO(text), strict=True)
    rows: list[tuple[int, list[str]]] = []
    try:
        while True:
            start = reader.line_num + 1
            try:
                rows.append((start, next(reader)))
            except StopIteration:
                break
            except csv.Error as exc:
                raise ProvisioningRefused(file, [RowProblem(start, "csv", str(exc))]) from None
    finally:
        csv.field_size_limit(previous)
    rows = [(line, fields) for line, fields in rows if any(f.strip() for f in fields)]
    if not rows:
        raise ProvisioningRefused(file, [RowProblem(1, "header", f"missing: expected {', '.join(COLUMNS[kind])}")])
    (header_line, header), body = rows[0], rows[1:]
    header = [h.strip() for h in header]
    problems = [
        RowProblem(header_line, name or f"column {i + 1}", f"unknown column (have: {', '.join(COLUMNS[kind])})")
        for i, name in enumerate(header)
        if name not in COLUMNS[kind]
    ]
    problems += [
        RowProblem(header_line, name, "column given twice")
        for name in sorted({h for h in header if header.count(h) > 1})
    ]
    key = COLUMNS[kind][0]
    if key not in header:
        problems.append(RowProblem(header_line, key, "missing column"))
    records = []
    for line, fields in body:
        if len(fields) > len(header):
            problems.append(RowProblem(line, "row", f"{len(fields)} fields, the header has {len(header)}"))
            continue
        values: dict[str, Any] = {}
        for name, cell in zip(header, fields, strict=False):
            cell = cell.strip()
            if name == "skills":
                values[name] = _csv_levels(cell, line, problems)
            elif cell:
                values[name] = cell
        records.append(Record(line, values))
    return records, problems


def _csv_levels(cell: str, line: int, problems: list[RowProblem]) -> dict[str, Any]:
    """``support=7;billing=3`` -> {"support": "7", "billing": "3"} (levels checked later)."""
    out: dict[str, Any] = {}
    for pair in filter(None, (p.strip() for p in cell.split(";"))):
        name, eq, level = (part.strip() for part in pair.partition("="))
        if not name or not eq:
            problems.append(RowProblem(line, "skills", f"{pair!r}: expected SKILL=LEVEL, pairs joined by ';'"))
        elif name in out:
            problems.append(RowProblem(line, f"skills.{name}", "given twice"))
        else:
            out[name] = level
    return out


def _yaml_records(root: yaml.Node | None, kind: str, file: str) -> tuple[list[Record], list[RowProblem]]:
    plural = PLURAL[kind]
    if isinstance(root, yaml.MappingNode) and len(root.value) == 1 and root.value[0][0].value == plural:
        root = root.value[0][1]
    if not isinstance(root, yaml.SequenceNode):
        line = root.start_mark.line + 1 if root is not None else 1
        return _refuse(file, line, "yaml", f"expected a list of {plural}, or a mapping '{plural}:' holding one")
    records, problems = [], []
    for item in root.value:
        line = item.start_mark.line + 1
        if not isinstance(item, yaml.MappingNode):
            problems.append(RowProblem(line, kind, f"expected a mapping of {', '.join(COLUMNS[kind])}"))
            continue
        values: dict[str, Any] = {}
        lines: dict[str, int] = {}
        for key_node, value_node in item.value:
            name = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
            at = key_node.start_mark.line + 1
            if name not in COLUMNS[kind]:
                problems.append(RowProblem(at, str(name), f"unknown key (have: {', '.join(COLUMNS[kind])})"))
            elif name in values:
                problems.append(RowProblem(at, name, "given twice"))
            else:
                value = yamlsafe.construct(value_node)
                if name == "skills":
                    value = {} if value is None else value
                    if not isinstance(value, dict):
                        problems.append(RowProblem(at, name, "expected a mapping of skill: level"))
                        continue
                elif isinstance(value, bool) or not isinstance(value, str | int):
                    problems.append(RowProblem(at, name, f"{value!r}: expected a single value"))
                    continue
                values[name], lines[name] = value, at
        records.append(Record(line, values, lines))
    return records, problems


def _refuse(file: str, line: int, name: str, message: str) -> tuple[list[Record], list[RowProblem]]:
    raise ProvisioningRefused(file, [RowProblem(line, name, message)])


def write_records(path: str | Path, kind: str, rows: Iterable[dict[str, Any]]) -> int:
    """Write ``rows`` (as :func:`engine.store.provisioning.export_rows` gives them) in the file's format."""
    fmt = file_format(path)
    rows = list(rows)
    if fmt == "yaml":
        text = yaml.safe_dump({PLURAL[kind]: rows}, allow_unicode=True, sort_keys=False, default_flow_style=None)
    else:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS[kind])
        for row in rows:
            cells = dict(row)
            if "skills" in cells:
                cells["skills"] = ";".join(f"{k}={v}" for k, v in cells["skills"].items())
            writer.writerow([cells.get(c, "") for c in COLUMNS[kind]])
        text = out.getvalue()
    target = Path(path)
    partial = target.with_name(f".{target.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, target)  # a reader never sees half a file
    return len(rows)

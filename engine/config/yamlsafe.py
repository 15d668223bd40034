"""The one way hotline reads YAML (flows, the config, compliance files): bounded before anything trusts it.

A file is refused, with its name and the line at fault, when it is larger than ``MAX_BYTES``, is not
UTF-8, nests deeper than ``MAX_DEPTH`` (counted through aliases too), uses more than ``MAX_ALIASES``
aliases, or would expand to more than ``MAX_NODES`` values once its aliases are followed ("billion
laughs"), or an alias refers to the collection that contains it. The checks run on the event stream
and on the composed node graph, each node visited once, so the time to refuse is bounded by the size
of the file, not by what it would expand to. libyaml is used when present.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 64
MAX_ALIASES = 256
MAX_NODES = 100_000

_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# YAML 1.1's printable set (what PyYAML's reader accepts); anything else is refused with its place
_NOT_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class YamlRefused(ValueError):
    """A YAML file hotline will not read; ``line`` and ``column`` are 1-based, 0 when there is no place."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        return f"{where}: {self.message}"


def read_text(path: str | Path, *, max_bytes: int = MAX_BYTES) -> str:
    """The text of ``path``: at most ``max_bytes`` bytes of UTF-8 (a BOM is dropped); YamlRefused otherwise."""
    file = str(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise YamlRefused(file, 0, 0, f"cannot read: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise YamlRefused(file, 0, 0, f"file is larger than {max_bytes} bytes")
    return decode(data, file)


def decode(data: bytes, file: str) -> str:
    """``data`` as UTF-8 text; YamlRefused naming the line and column of the first invalid byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        bad = data[exc.start : exc.start + 1].hex()
        raise YamlRefused(file, line, column, f"not UTF-8 text (byte 0x{bad})") from None


def compose(text: str, file: str) -> yaml.Node | None:
    """The node graph of one YAML document, after every limit is checked; None for an empty document."""
    if len(text) > MAX_BYTES:
        raise YamlRefused(file, 0, 0, f"text is longer than {MAX_BYTES} characters")
    bad = _NOT_PRINTABLE.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        raise YamlRefused(file, line, column, f"character U+{ord(bad.group()):04X} is not allowed in YAML")
    try:
        _check_events(text, file)
        root = yaml.compose(text, Loader=_Loader)
    except YamlRefused:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        context = f" ({exc.context} at line {exc.context_mark.line + 1})" if exc.context and exc.context_mark else ""
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise YamlRefused(file, line, column, f"not valid YAML: {exc.problem}{context}") from None
    except yaml.YAMLError as exc:
        raise YamlRefused(file, 1, 1, f"not valid YAML: {exc}") from None
    if root is not None:
        _Expansion(file).measure(root, 1)
    return root


def construct(node: yaml.Node | None) -> Any:
    """Plain Python data (dicts, lists, scalars) for a node graph ``compose`` accepted."""
    if node is None:
        return None
    return _Loader("").construct_document(node)


def load(text: str, file: str) -> Any:
    """``construct(compose(text, file))``."""
    return construct(compose(text, file))


def load_file(path: str | Path) -> Any:
    """The data of one YAML file, every limit checked."""
    return load(read_text(path), str(path))


def _check_events(text: str, file: str) -> None:
    """Depth and alias count, on the event stream (no recursion, nothing built yet)."""
    depth = aliases = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise _at(file, event, f"nested deeper than {MAX_DEPTH} levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise _at(file, event, f"more than {MAX_ALIASES} aliases")


class _Expansion:
    """Size and depth of the tree the node graph stands for, each node measured once (memoised)."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (values, height)
        self.open: set[int] = set()

    def measure(self, node: yaml.Node, depth: int) -> tuple[int, int]:
        key = id(node)
        if key in self.open:
            raise _at(self.file, node, "an alias refers to the collection that contains it")
        if key not in self.sizes:
            if isinstance(node, yaml.ScalarNode):
                self.sizes[key] = (1, 0)
            else:
                self.open.add(key)
                mapping = isinstance(node, yaml.MappingNode)
                children = [c for pair in node.value for c in pair] if mapping else node.value
                values, height = 1, 0
                for child in children:
                    size, child_height = self.measure(child, depth + 1)
                    values, height = values + size, max(height, child_height + 1)
                    if values > MAX_NODES:
                        raise _at(self.file, node, f"expands to more than {MAX_NODES} values through its aliases")
                self.open.discard(key)
                self.sizes[key] = (values, height)
        values, height = self.sizes[key]
        if depth + height > MAX_DEPTH + 1:
            raise _at(self.file, node, f"nested deeper than {MAX_DEPTH} levels through its aliases")
        return values, height


def _at(file: str, item: yaml.Node | yaml.Event, message: str) -> YamlRefused:
    mark = item.start_mark
    return YamlRefused(file, mark.line + 1, mark.column + 1, message)

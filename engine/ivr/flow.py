"""A loaded, validated flow: its nodes grouped in scopes (the main flow and each sub-flow)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.ivr.schema import FlowTest, Step

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class SourceMap:
    """Where each YAML value (and each mapping key) was written: path -> (line, column), 1-based."""

    file: str
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """Position of the value (or key) at `path`, else of the deepest enclosing value that exists."""
        if key and path in self.keys:
            return self.keys[path]
        for end in range(len(path), -1, -1):
            if path[:end] in self.values:
                return self.values[path[:end]]
        return (1, 1)


@dataclass(frozen=True, slots=True)
class Scope:
    """The main flow (name '') or one sub-flow: nodes in file order and where each node continues."""

    name: str
    start: str
    nodes: dict[str, Step]
    following: dict[str, str | None]
    base_path: Path

    def qualified(self, node_id: str) -> str:
        """Node id as shown in traces: `node` in the main flow, `subflow/node` in a sub-flow."""
        return f"{self.name}/{node_id}" if self.name else node_id


@dataclass(frozen=True, slots=True)
class Flow:
    """A flow ready to run."""

    name: str
    description: str
    main: Scope
    subflows: dict[str, Scope]
    variables: dict[str, Any]
    holidays: frozenset[str]
    language: str
    voice: str | None
    tests: tuple[FlowTest, ...]
    source: SourceMap

    def scopes(self) -> list[Scope]:
        """The main scope first, then every sub-flow."""
        return [self.main, *self.subflows.values()]

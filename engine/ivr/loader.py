"""Read flow YAML files keeping the line and column of every value, and build validated `Flow` objects."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path as FsPath
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.constructor import SafeConstructor

from engine.config import yamlsafe
from engine.ivr.errors import FlowError, FlowValidationError
from engine.ivr.flow import Flow, Path, Scope, SourceMap
from engine.ivr.schema import FINAL_STEPS, STEP_MODELS, FlowDoc, Step
from engine.ivr.validate import format_path, validate_flow, validate_transfers


class _Reader:
    """Turns a composed YAML node tree into plain data while recording marks; duplicate keys are errors."""

    def __init__(self, file: str) -> None:
        self.source = SourceMap(file)
        self.errors: list[FlowError] = []
        self._constructor = SafeConstructor()

    def read(self, node: yaml.Node, path: Path) -> Any:
        self.source.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self._constructor.construct_object(key_node, deep=True)
                key = key if isinstance(key, str) else str(key)
                child = (*path, key)
                if key in out:
                    self.errors.append(
                        FlowError(
                            self.source.file,
                            key_node.start_mark.line + 1,
                            key_node.start_mark.column + 1,
                            format_path(child),
                            f"duplicate key '{key}'",
                        )
                    )
                    continue
                self.source.keys[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                out[key] = self.read(value_node, child)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.read(item, (*path, i)) for i, item in enumerate(node.value)]
        try:
            return self._constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError):  # e.g. 2024-13-01 looks like a date but is none: keep the text
            return node.value


def _walk(loc: tuple[int | str, ...], source: SourceMap, prefix: Path) -> Path:
    """Follow a pydantic error location through the parts that exist in the file."""
    path: Path = prefix
    for part in loc:
        candidate = (*path, part)
        if candidate in source.values or candidate in source.keys:
            path = candidate
    return path


def _pydantic_errors(exc: ValidationError, source: SourceMap, prefix: Path) -> list[FlowError]:
    """Convert pydantic errors into FlowErrors at the offending key or value."""
    out: list[FlowError] = []
    errors = exc.errors()
    for err in errors:
        kind, loc = err["type"], err["loc"]
        if kind == "too_short" and any(len(e["loc"]) > len(loc) and e["loc"][: len(loc)] == loc for e in errors):
            continue  # the list is only short because an item inside it failed: report that item alone
        if kind == "missing":
            path = _walk(loc[:-1], source, prefix)
            message = f"missing required field '{loc[-1]}'"
            line, col = source.locate(path)
        elif kind == "extra_forbidden":
            path = _walk(loc, source, prefix)
            message = f"unknown field '{loc[-1]}'"
            line, col = source.locate(path, key=True)
        else:
            path = _walk(loc, source, prefix)
            message = err["msg"].removeprefix("Value error, ")
            line, col = source.locate(path)
        out.append(FlowError(source.file, line, col, format_path(path), message))
    return out


def _build_scope(
    name: str,
    start: str | None,
    raw_nodes: dict[str, dict[str, Any]],
    base: Path,
    source: SourceMap,
    errors: list[FlowError],
) -> Scope:
    nodes: dict[str, Step] = {}
    for node_id, raw in raw_nodes.items():
        path = (*base, node_id)
        keywords = [k for k in raw if k in STEP_MODELS]
        if len(keywords) != 1:
            line, col = source.locate(path, key=True)
            if keywords:
                message = f"node has more than one step: {', '.join(keywords)}"
            else:
                unknown = next(iter(raw), None)
                message = f"unknown step type '{unknown}'" if unknown else "node has no step"
                if unknown:
                    line, col = source.locate((*path, unknown), key=True)
                    path = (*path, unknown)
            errors.append(FlowError(source.file, line, col, format_path(path), message))
            continue
        try:
            nodes[node_id] = STEP_MODELS[keywords[0]].model_validate(raw)
        except ValidationError as exc:
            errors.extend(_pydantic_errors(exc, source, path))
    order = list(raw_nodes)
    following: dict[str, str | None] = {}
    for i, node_id in enumerate(order):
        step = nodes.get(node_id)
        explicit = getattr(step, "next", None)
        following[node_id] = explicit or (
            None if isinstance(step, FINAL_STEPS) or i + 1 == len(order) else order[i + 1]
        )
    return Scope(name, start or order[0], nodes, following, base)


def parse_flow(text: str, file: str) -> tuple[Flow | None, list[FlowError]]:
    """Parse one flow document and check its schema (not its semantics)."""
    reader = _Reader(file)
    try:
        root = yamlsafe.compose(text, file)
    except yamlsafe.YamlRefused as exc:
        return None, [_refused(exc)]
    if root is None:
        return None, [FlowError(file, 1, 1, "<top>", "file is empty")]
    data = reader.read(root, ())
    errors = reader.errors
    try:
        doc = FlowDoc.model_validate(data)
    except ValidationError as exc:
        return None, errors + _pydantic_errors(exc, reader.source, ())
    main = _build_scope("", doc.start, doc.nodes, ("nodes",), reader.source, errors)
    subflows = {
        name: _build_scope(name, sub.start, sub.nodes, ("subflows", name, "nodes"), reader.source, errors)
        for name, sub in doc.subflows.items()
    }
    if errors:
        return None, errors
    flow = Flow(
        name=doc.flow or FsPath(file).stem,
        description=doc.description or "",
        main=main,
        subflows=subflows,
        variables=dict(doc.variables),
        holidays=frozenset(doc.holidays),
        language=doc.language,
        voice=doc.voice,
        tests=doc.tests,
        source=reader.source,
    )
    return flow, []


def _refused(exc: yamlsafe.YamlRefused) -> FlowError:
    return FlowError(exc.file, exc.line, exc.column, "<top>", exc.message)


def check_file(
    path: str | FsPath,
    *,
    sounds_dir: str | FsPath | None = None,
    skills: Iterable[str] | None = None,
    queues: Iterable[str] | None = None,
) -> tuple[Flow | None, list[FlowError]]:
    """Parse and fully validate one file; returns the flow (None when invalid) and every error found."""
    file = str(path)
    try:
        text = yamlsafe.read_text(path)
    except yamlsafe.YamlRefused as exc:
        return None, [_refused(exc)]
    flow, errors = parse_flow(text, file)
    if flow is None:
        return None, errors
    errors = validate_flow(flow, sounds_dir=sounds_dir, skills=skills, queues=queues)
    return (None if errors else flow), errors


def load_flow(
    path: str | FsPath,
    *,
    sounds_dir: str | FsPath | None = None,
    skills: Iterable[str] | None = None,
    queues: Iterable[str] | None = None,
) -> Flow:
    """Load one flow file; raises FlowValidationError listing every problem."""
    flow, errors = check_file(path, sounds_dir=sounds_dir, skills=skills, queues=queues)
    if flow is None:
        raise FlowValidationError(errors)
    return flow


def load_flows(
    path: str | FsPath,
    *,
    sounds_dir: str | FsPath | None = None,
    skills: Iterable[str] | None = None,
    queues: Iterable[str] | None = None,
) -> dict[str, Flow]:
    """Load every *.yaml flow in a directory (or one file); all or nothing: any error raises."""
    root = FsPath(path)
    files = sorted([*root.glob("*.yaml"), *root.glob("*.yml")]) if root.is_dir() else [root]
    if root.is_dir() and not files:
        raise FlowValidationError([FlowError(str(root), 0, 0, "<top>", "no flow files (*.yaml, *.yml) here")])
    flows: dict[str, Flow] = {}
    errors: list[FlowError] = []
    for file in files:
        flow, file_errors = check_file(file, sounds_dir=sounds_dir, skills=skills, queues=queues)
        errors.extend(file_errors)
        if flow is None:
            continue
        if flow.name in flows:
            line, col = flow.source.locate(("flow",))
            errors.append(FlowError(str(file), line, col, "flow", f"flow name '{flow.name}' is used twice"))
            continue
        flows[flow.name] = flow
    for flow in flows.values():
        errors.extend(validate_transfers(flow, set(flows)))
    if errors:
        raise FlowValidationError(errors)
    return flows

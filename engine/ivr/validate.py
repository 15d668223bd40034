"""Semantic checks of a parsed flow: targets, reachability, loops, exits, variables, audio, skills."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path as FsPath
from typing import Any

from engine.ivr.errors import ExpressionError, FlowError
from engine.ivr.expressions import compile_expression, compile_template
from engine.ivr.flow import Flow, Path, Scope
from engine.ivr.schema import (
    BranchStep,
    CallbackStep,
    CallStep,
    CollectStep,
    EndStep,
    FaxStep,
    GotoStep,
    HangupStep,
    LookupStep,
    MenuStep,
    MessageStep,
    PlayStep,
    PromptItem,
    QueueStep,
    RecogniseStep,
    ReturnStep,
    SetStep,
    Step,
    SurveyStep,
    TransferStep,
)

BUILTIN_VARIABLES = frozenset({"caller", "called", "call_uuid"})
WAITING_STEPS = (MenuStep, CollectStep, RecogniseStep, SurveyStep)
EXIT_STEPS = (ReturnStep, QueueStep, TransferStep, MessageStep, CallbackStep, HangupStep, EndStep)
_PROMPT_FIELDS = (
    "menu",
    "collect",
    "recognise",
    "survey",
    "message",
    "noinput",
    "nomatch",
    "confirm",
    "goodbye",
)


def format_path(path: Path) -> str:
    """('nodes', 'menu', 'choices', 0, 'goto') -> 'nodes.menu.choices[0].goto'; () -> '<top>'."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top>"


def step_targets(scope: Scope, node_id: str) -> list[tuple[Path | None, str]]:
    """Every node this node can continue to, with the field naming it (None = falls through)."""
    step = scope.nodes[node_id]
    out: list[tuple[Path | None, str]] = []
    following = scope.following[node_id]
    if following is not None:
        out.append((("next",) if getattr(step, "next", None) else None, following))
    if isinstance(step, GotoStep):
        out.append((("goto",), step.goto))
    if isinstance(step, MenuStep):
        out.extend((("choices", i, "goto"), c.goto) for i, c in enumerate(step.choices))
    if isinstance(step, BranchStep):
        out.extend((("branch", i, "goto"), c.goto) for i, c in enumerate(step.branch))
        out.append((("else",), step.else_))
    for name in ("on_failure", "not_found", "on_empty"):
        target = getattr(step, name, None)
        if target is not None:
            out.append(((name,), target))
    return out


def assigned_variables(flow: Flow) -> set[str]:
    """Every variable any step can set (flow-wide), plus the built-ins and the declared `variables:`."""
    names = set(BUILTIN_VARIABLES) | set(flow.variables)
    for scope in flow.scopes():
        for step in scope.nodes.values():
            if isinstance(step, CollectStep | RecogniseStep):
                names.add(step.into)
            elif isinstance(step, SurveyStep):
                names.add(step.question)
            elif isinstance(step, LookupStep):
                names.add(step.into or step.lookup)
            elif isinstance(step, SetStep):
                names.update(step.set)
            elif isinstance(step, MenuStep):
                for choice in step.choices:
                    names.update(choice.set)
            elif isinstance(step, MessageStep):
                names.add("recording")
            elif isinstance(step, FaxStep):
                names.add("fax_ok")
    return names


def _prompts(step: Step) -> Iterator[tuple[Path, PromptItem]]:
    for name in _PROMPT_FIELDS:
        for i, item in enumerate(getattr(step, name, None) or ()):
            yield (name, i), item


def _templates(step: Step) -> Iterator[tuple[Path, str, bool]]:
    """(relative path, text, is_condition) for every text that may hold variables."""
    for path, item in _prompts(step):
        yield (*path, "say" if item.say is not None else "play"), item.say or item.play or "", False
    for name in ("say", "to", "callback", "number", "reason", "fax", "key"):
        value = getattr(step, name, None)
        if isinstance(value, str):
            yield (name,), value, False
    if isinstance(step, PlayStep):
        for i, item in enumerate(step.play):
            yield ("play", i), item, False
    values: list[tuple[Path, Any]] = []
    if isinstance(step, SetStep):
        values = [(("set", k), v) for k, v in step.set.items()]
    if isinstance(step, MenuStep):
        values = [(("choices", i, "set", k), v) for i, c in enumerate(step.choices) for k, v in c.set.items()]
    for path, value in values:
        if isinstance(value, str):
            is_expr = value.startswith("=")
            yield path, value[1:] if is_expr else value, is_expr
    if isinstance(step, BranchStep):
        for i, case in enumerate(step.branch):
            if case.if_ is not None:
                yield ("branch", i, "if"), case.if_, True


class _Checker:
    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.errors: list[FlowError] = []

    def error(self, path: Path, message: str, *, key: bool = False) -> None:
        line, col = self.flow.source.locate(path, key=key)
        self.errors.append(FlowError(self.flow.source.file, line, col, format_path(path), message))

    def targets(self, scope: Scope) -> None:
        if scope.start not in scope.nodes:
            self.error((*scope.base_path[:-1], "start"), f"unknown start node '{scope.start}'")
        for node_id, step in scope.nodes.items():
            base = (*scope.base_path, node_id)
            for rel, target in step_targets(scope, node_id):
                if rel is not None and target not in scope.nodes:
                    where = "" if not scope.name else f" in sub-flow '{scope.name}'"
                    self.error((*base, *rel), f"unknown goto target '{target}'{where}")
            if isinstance(step, CallStep) and step.call not in self.flow.subflows:
                self.error((*base, "call"), f"unknown sub-flow '{step.call}'")
            if isinstance(step, ReturnStep) and not scope.name:
                self.error((*base, "return"), "'return' only ends a sub-flow; use end or hangup in the main flow")
            if isinstance(step, MenuStep | CollectStep | RecogniseStep):
                if step.on_failure is None:
                    kind = type(step).__name__.removesuffix("Step").lower()
                    self.error(
                        base,
                        f"{kind} has no 'on_failure': where does the call go when attempts run out?",
                        key=True,
                    )
                elif step.on_failure == node_id:
                    self.error(
                        (*base, "on_failure"),
                        "on_failure leads back to the same step: the caller never gets out",
                    )
            if not isinstance(step, EXIT_STEPS) and not step_targets(scope, node_id) and not scope.name:
                self.error(
                    base,
                    "the flow runs off the end after this step: add next, goto, queue or hangup",
                    key=True,
                )

    def reachability(self) -> None:
        called: set[str] = set()
        pending = [self.flow.main]
        seen_scopes = {""}
        while pending:
            scope = pending.pop()
            seen = {scope.start} if scope.start in scope.nodes else set()
            todo = list(seen)
            while todo:
                node_id = todo.pop()
                step = scope.nodes[node_id]
                if isinstance(step, CallStep) and step.call in self.flow.subflows:
                    called.add(step.call)
                    if step.call not in seen_scopes:
                        seen_scopes.add(step.call)
                        pending.append(self.flow.subflows[step.call])
                for _, target in step_targets(scope, node_id):
                    if target in scope.nodes and target not in seen:
                        seen.add(target)
                        todo.append(target)
            for node_id in scope.nodes:
                if node_id not in seen and scope.start in scope.nodes:
                    self.error((*scope.base_path, node_id), f"node '{node_id}' is never reached", key=True)
        for name in self.flow.subflows:
            if name not in called:
                self.error(("subflows", name), f"sub-flow '{name}' is never called", key=True)

    def loops(self, scope: Scope) -> None:
        graph = {n: [t for _, t in step_targets(scope, n) if t in scope.nodes] for n in scope.nodes}
        order = list(scope.nodes)
        for component in _strongly_connected(graph):
            members = set(component)
            if len(component) == 1 and component[0] not in graph[component[0]]:
                continue
            ordered = sorted(members, key=order.index)
            shown = " -> ".join([*ordered, ordered[0]])
            first = (*scope.base_path, ordered[0])
            steps = [scope.nodes[n] for n in ordered]
            has_exit = (
                any(isinstance(s, EXIT_STEPS) for s in steps)
                or any(t not in members for n in ordered for _, t in step_targets(scope, n))
                or (
                    scope.name != ""
                    and any(
                        scope.following[n] is None and not isinstance(scope.nodes[n], (GotoStep, BranchStep, MenuStep))
                        for n in ordered
                    )
                )
            )
            if not has_exit:
                self.error(first, f"loop {shown} has no exit", key=True)
            elif not any(isinstance(s, (*WAITING_STEPS, SetStep)) for s in steps):
                self.error(
                    first,
                    f"loop {shown} never waits for the caller and counts nothing: it can spin forever; "
                    "add an attempt counter (set) or a menu/collect",
                    key=True,
                )

    def variables(self, scope: Scope) -> None:
        known = assigned_variables(self.flow)
        for node_id, step in scope.nodes.items():
            base = (*scope.base_path, node_id)
            for rel, text, is_condition in _templates(step):
                try:
                    names = compile_expression(text).names if is_condition else compile_template(text).names
                except ExpressionError as exc:
                    self.error((*base, *rel), str(exc))
                    continue
                for name in sorted(names - known):
                    kind = "condition" if is_condition else "text"
                    self.error((*base, *rel), f"undefined variable '{name}' in {kind}")

    def details(
        self, scope: Scope, sounds_dir: FsPath | None, skills: set[str] | None, queues: set[str] | None
    ) -> None:
        for node_id, step in scope.nodes.items():
            base = (*scope.base_path, node_id)
            if isinstance(step, CollectStep) and step.regex is not None:
                try:
                    re.compile(step.regex)
                except re.error as exc:
                    self.error((*base, "regex"), f"bad regex {step.regex!r}: {exc}")
            if isinstance(step, CollectStep) and step.min > step.max:
                self.error((*base, "min"), f"min ({step.min}) is larger than max ({step.max})")
            if isinstance(step, MenuStep):
                self._duplicate_choices(base, step)
            if isinstance(step, LookupStep) and step.lookup == "ticket_status" and step.key is None:
                self.error(base, "a ticket_status lookup needs a 'key' (the ticket number)", key=True)
            if isinstance(step, SurveyStep) and step.lowest >= step.highest:
                self.error((*base, "highest"), "highest score must be above lowest")
            if isinstance(step, QueueStep):
                if queues is not None and step.queue not in queues:
                    self.error((*base, "queue"), f"unknown queue '{step.queue}'")
                skill = step.skill or step.queue
                if skills is not None and skill not in skills:
                    self.error((*base, "skill" if step.skill else "queue"), f"unknown skill '{skill}'")
            if sounds_dir is not None:
                self._audio(base, step, sounds_dir)

    def _duplicate_choices(self, base: Path, step: MenuStep) -> None:
        keys: set[str] = set()
        words: set[str] = set()
        for i, choice in enumerate(step.choices):
            if choice.key is not None:
                if choice.key in keys:
                    self.error((*base, "choices", i, "key"), f"key '{choice.key}' is used by two choices")
                keys.add(choice.key)
            for j, word in enumerate(choice.words):
                if word.lower() in words:
                    self.error((*base, "choices", i, "words", j), f"word '{word}' is used by two choices")
                words.add(word.lower())

    def _audio(self, base: Path, step: Step, sounds_dir: FsPath) -> None:
        files: list[tuple[Path, str]] = [((*rel, "play"), p.play) for rel, p in _prompts(step) if p.play]
        if isinstance(step, PlayStep):
            files.extend((("play", i), item) for i, item in enumerate(step.play))
        for rel, item in files:
            if item.startswith("tone_stream://") or "{" in item:
                continue
            if not (sounds_dir / item).is_file():
                self.error((*base, *rel), f"audio file '{item}' not found in {sounds_dir}")


def _strongly_connected(graph: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; returns components in reverse topological order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    out.append(component)
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(graph[child])))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return out


def validate_flow(
    flow: Flow,
    *,
    sounds_dir: str | FsPath | None = None,
    skills: Iterable[str] | None = None,
    queues: Iterable[str] | None = None,
) -> list[FlowError]:
    """Every semantic problem in one flow, in file order; skills/queues/sounds checks skipped when None."""
    checker = _Checker(flow)
    sounds = FsPath(sounds_dir) if sounds_dir is not None else None
    skill_set = set(skills) if skills is not None else None
    queue_set = set(queues) if queues is not None else None
    for scope in flow.scopes():
        checker.targets(scope)
        checker.loops(scope)
        checker.variables(scope)
        checker.details(scope, sounds, skill_set, queue_set)
    checker.reachability()
    for i, test in enumerate(flow.tests):
        known = {scope.qualified(n) for scope in flow.scopes() for n in scope.nodes}
        for j, node in enumerate(test.expect_nodes):
            if node not in known:
                checker.error(("tests", i, "expect_nodes", j), f"test expects unknown node '{node}'")
    return sorted(checker.errors, key=lambda e: (e.line, e.column, e.message))


def validate_transfers(flow: Flow, flow_names: set[str]) -> list[FlowError]:
    """Transfers to another flow must name a flow loaded alongside this one."""
    checker = _Checker(flow)
    for scope in flow.scopes():
        for node_id, step in scope.nodes.items():
            if isinstance(step, TransferStep) and step.transfer == "flow" and step.to not in flow_names:
                checker.error((*scope.base_path, node_id, "to"), f"unknown flow '{step.to}'")
    return checker.errors

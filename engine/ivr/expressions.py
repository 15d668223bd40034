"""Conditions (`customer.tier == "vip" and tries < 3`) and text templates (`Hello {customer.name}`).

Conditions use a small, safe subset of Python expression syntax; nothing can call out or change state.
`customer.tier` reads key `tier` of the variable `customer`; a missing key reads as none.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.ivr.errors import ExpressionError

_CONSTANTS = {"true": True, "false": False, "none": None, "True": True, "False": False, "None": None}
_FUNCTIONS: dict[str, Callable[[Any], Any]] = {"len": len, "int": int, "str": str, "lower": str.lower}
_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
}
_CMPOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_TEMPLATE_FIELD = re.compile(r"\{([^{}]*)\}")
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")


def lookup_path(variables: Mapping[str, Any], dotted: str) -> Any:
    """Read `a.b.c` from nested mappings; anything missing reads as None."""
    value: Any = variables
    for part in dotted.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        else:
            return None
    return value


@dataclass(frozen=True, slots=True)
class Expression:
    """A compiled condition; `names` are the variables it reads (roots only)."""

    source: str
    names: frozenset[str]
    _tree: ast.expr

    def evaluate(self, variables: Mapping[str, Any]) -> Any:
        """Evaluate against the variables; comparing incompatible values (e.g. none > 3) gives False."""
        try:
            return _eval(self._tree, variables)
        except (TypeError, ValueError, ZeroDivisionError):
            return False


def compile_expression(source: str) -> Expression:
    """Parse and check a condition; raises ExpressionError with a readable reason."""
    try:
        tree = ast.parse(source.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ExpressionError(f"cannot read condition {source!r}: {exc.msg}") from None
    names: set[str] = set()
    for node in ast.walk(tree):
        _check_node(node, source)
        if isinstance(node, ast.Name) and node.id not in _CONSTANTS and node.id not in _FUNCTIONS:
            names.add(node.id)
    return Expression(source, frozenset(names), tree)


def _check_node(node: ast.AST, source: str) -> None:
    allowed = (
        ast.BoolOp,
        ast.And,
        ast.Or,
        ast.UnaryOp,
        ast.Not,
        ast.USub,
        ast.Compare,
        ast.BinOp,
        ast.Name,
        ast.Load,
        ast.Attribute,
        ast.Constant,
        ast.List,
        ast.Tuple,
        ast.Call,
        *_BINOPS,
        *_CMPOPS,
    )
    if not isinstance(node, allowed):
        raise ExpressionError(f"condition {source!r} uses {type(node).__name__}, which is not allowed")
    if isinstance(node, ast.Call) and not (
        isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS and len(node.args) == 1 and not node.keywords
    ):
        raise ExpressionError(f"condition {source!r}: only {', '.join(sorted(_FUNCTIONS))}(value) may be called")


def _eval(node: ast.expr, variables: Mapping[str, Any]) -> Any:
    match node:
        case ast.Constant(value=value):
            return value
        case ast.Name(id=name):
            if name in _CONSTANTS:
                return _CONSTANTS[name]
            return variables.get(name)
        case ast.Attribute(value=inner, attr=attr):
            base = _eval(inner, variables)
            return base.get(attr) if isinstance(base, Mapping) else None
        case ast.BoolOp(op=ast.And(), values=values):
            result: Any = True
            for value in values:
                result = _eval(value, variables)
                if not result:
                    return result
            return result
        case ast.BoolOp(values=values):
            result = False
            for value in values:
                result = _eval(value, variables)
                if result:
                    return result
            return result
        case ast.UnaryOp(op=ast.Not(), operand=operand):
            return not _eval(operand, variables)
        case ast.UnaryOp(operand=operand):
            return -_eval(operand, variables)
        case ast.BinOp(left=left, op=op, right=right):
            return _BINOPS[type(op)](_eval(left, variables), _eval(right, variables))
        case ast.Compare(left=left, ops=ops, comparators=comparators):
            current = _eval(left, variables)
            for op, comparator in zip(ops, comparators, strict=True):
                other = _eval(comparator, variables)
                if not _CMPOPS[type(op)](current, other):
                    return False
                current = other
            return True
        case ast.List(elts=elts) | ast.Tuple(elts=elts):
            return [_eval(e, variables) for e in elts]
        case ast.Call(func=ast.Name(id=func), args=[arg]):
            return _FUNCTIONS[func](_eval(arg, variables))
    raise ExpressionError(f"unsupported expression {ast.dump(node)}")


@dataclass(frozen=True, slots=True)
class Template:
    """Text with `{variable}` / `{variable.key}` fields; `names` are the variables it reads (roots only)."""

    source: str
    names: frozenset[str]
    _parts: tuple[tuple[bool, str], ...]

    def render(self, variables: Mapping[str, Any]) -> str:
        """Fill the fields; a missing value renders as empty text."""
        out: list[str] = []
        for is_field, text in self._parts:
            if not is_field:
                out.append(text)
                continue
            value = lookup_path(variables, text)
            out.append("" if value is None else str(value))
        return "".join(out)


def compile_template(source: str) -> Template:
    """Parse `{name}` fields; raises ExpressionError for a field that is not a variable name."""
    parts: list[tuple[bool, str]] = []
    names: set[str] = set()
    pos = 0
    for match in _TEMPLATE_FIELD.finditer(source):
        field = match.group(1).strip()
        if not _DOTTED.match(field):
            raise ExpressionError(f"template field {{{match.group(1)}}} is not a variable name")
        parts.append((False, source[pos : match.start()]))
        parts.append((True, field))
        names.add(field.split(".", 1)[0])
        pos = match.end()
    parts.append((False, source[pos:]))
    return Template(source, frozenset(names), tuple(p for p in parts if p[0] or p[1]))

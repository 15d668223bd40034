"""Errors that point at the exact place in a flow file."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FlowError:
    """One problem in a flow file, rendered as `file:line:col: path: message` (line and column 1-based).

    A problem with the whole file (unreadable, too large) has line 0 and renders as `file: message`.
    """

    file: str
    line: int
    column: int
    yaml_path: str
    message: str

    def __str__(self) -> str:
        if not self.line:
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.line}:{self.column}: {self.yaml_path}: {self.message}"


class FlowValidationError(ValueError):
    """Raised when one or more flows fail to load; `errors` lists every problem found."""

    def __init__(self, errors: list[FlowError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


class ExpressionError(ValueError):
    """A condition or template that cannot be parsed."""

"""The HTTP plumbing every API module shares: requests, errors, roles and the router.

A route handler takes a :class:`Request` (plus the pattern's named groups) and returns something
JSON can encode, or a :class:`Raw` response (event streams, Prometheus text, HTML pages).
Each domain registers its routes in its own module with ``register(router, ...)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.config.model import Token

Handler = Callable[..., Any]


class ApiError(Exception):
    """An error with an HTTP status, returned to the client as ``{"error": message}``."""

    def __init__(self, status: int, message: str, headers: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.headers = list(headers)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    token: Token | None
    body: dict[str, Any]

    def require(self, *roles: str, agent: str | None = None) -> Token:
        """The caller's token if its role is one of ``roles`` (or it is that ``agent``'s own token)."""
        if self.token is None:
            raise ApiError(401, "missing or unknown token")
        if self.token.role == "agent" and agent is not None and self.token.agent == agent:
            return self.token
        if self.token.role not in roles:
            raise ApiError(403, f"role {self.token.role!r} may not do this")
        return self.token


@dataclass(frozen=True)
class Raw:
    """A non-JSON response."""

    status: str
    headers: list[tuple[str, str]]
    body: Iterable[bytes]


@dataclass
class Router:
    routes: list[tuple[str, re.Pattern[str], Handler]] = field(default_factory=list)

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self.routes.append((method, re.compile(f"^{pattern}$"), fn))
            return fn

        return register

    def find(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        allowed = False
        for verb, pattern, handler in self.routes:
            found = pattern.match(path)
            if not found:
                continue
            allowed = True
            if verb == method:
                return handler, found.groupdict()
        if allowed:
            raise ApiError(405, f"{method} {path}: method not allowed")
        raise ApiError(404, f"{method} {path}: no such endpoint")

"""The HTTP plumbing every API module shares: requests, errors, roles and the router.

A route declares its input next to it: ``@router.route("POST", pattern, body=Model, query=Model)``.
The router checks the token's presence, the path ids, the query and the body against those models
before the handler runs (:meth:`Route.validate`), so a handler only ever sees typed, bounded input
(``req.input``, ``req.params``) and the OpenAPI document is generated from the same models.
A handler returns something JSON can encode, or a :class:`Raw` response (event streams, Prometheus
text, audio, HTML pages). Each domain registers its routes in its own module with ``register(router)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from engine.api.inputs import ID_MAX, PATH_TEXT, NoBody, field_errors
from engine.config.model import Token
from engine.store.db import unavailable

Handler = Callable[..., Any]


class ApiError(Exception):
    """An error with an HTTP status, answered as ``{"error": message, "field": field}``.

    Subclasses carry their status as a class attribute (the status hint the edge maps once);
    ``ApiError(status, message)`` still works for a one-off status such as 429.
    """

    status = 400

    def __init__(
        self, status: int | None, message: str, headers: Sequence[tuple[str, str]] = (), *, field: str | None = None
    ) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status
        self.headers = list(headers)
        self.field = field


class BadRequest(ApiError):
    """400: the input breaks a rule; ``field`` names where (``body.title``, ``query.limit``, ``path.cid``)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(None, message, field=field)


class Unauthorized(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403


class NotFoundError(ApiError):
    status = 404


class MethodNotAllowed(ApiError):
    status = 405


class ConflictError(ApiError):
    status = 409


class TooLarge(ApiError):
    status = 413


class Unavailable(ApiError):
    """503: the database cannot take the request now (down, read-only, connection lost); nothing was
    changed, the client should retry after ``Retry-After`` seconds. Raised by :func:`database_down`."""

    status = 503


RETRY_AFTER_SECONDS = 5


def database_down(exc: Exception) -> Unavailable | None:
    """The 503 an error below the edge becomes when it says the database is unavailable, else None.

    Its message names no table, statement or value (those stay in the log)."""
    if not unavailable(exc):
        return None
    return Unavailable(
        None, "the database is unavailable; nothing was changed, retry later",
        [("Retry-After", str(RETRY_AFTER_SECONDS))],
    )  # fmt: skip


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    token: Token | None
    body: dict[str, Any]
    input: Any = None  # the route's body model, validated
    params: Any = None  # the route's query model, validated

    def require(self, *roles: str, agent: str | None = None) -> Token:
        """The caller's token if its role is one of ``roles`` (or it is that ``agent``'s own token)."""
        if self.token is None:
            raise Unauthorized(None, "missing or unknown token")
        if self.token.role == "agent" and agent is not None and self.token.agent == agent:
            return self.token
        if self.token.role not in roles:
            raise Forbidden(None, f"role {self.token.role!r} may not do this")
        return self.token


@dataclass(frozen=True)
class Raw:
    """A non-JSON response."""

    status: str
    headers: list[tuple[str, str]]
    body: Iterable[bytes]


@dataclass(frozen=True)
class Route:
    """One operation: its pattern, handler and declared input."""

    method: str
    pattern: re.Pattern[str]
    handler: Handler
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    open: bool = False  # reachable without a token
    produces: str = "application/json"

    def __iter__(self) -> Any:  # (method, pattern, handler), as the router's tuples were
        return iter((self.method, self.pattern, self.handler))

    def __call__(self, req: Request, **groups: Any) -> Any:
        """Run the handler (input already validated)."""
        return self.handler(req, **groups)

    def path_params(self, groups: dict[str, str]) -> dict[str, Any]:
        """Path groups checked: ``\\d+`` groups become ids within the database's range, the rest text
        without control characters, at most 128 characters."""
        out: dict[str, Any] = {}
        for name, value in groups.items():
            where = f"path.{name}"
            if self.int_groups and name in self.int_groups:
                if len(value) > 10 or not 0 <= int(value) <= ID_MAX:
                    raise BadRequest(f"{where}: {value[:20]!r} is not an id from 0 to {ID_MAX}", field=where)
                out[name] = int(value)
            elif not PATH_TEXT.fullmatch(value):
                raise BadRequest(f"{where}: at most 128 characters, no control characters", field=where)
            else:
                out[name] = value
        return out

    @property
    def int_groups(self) -> frozenset[str]:
        return frozenset(re.findall(r"\(\?P<(\w+)>\\d\+\)", self.pattern.pattern))

    def validate(self, body: bytes | None, query: dict[str, list[str]]) -> tuple[Any, Any]:
        """The body and query models, validated; BadRequest naming the field otherwise."""
        params = None
        if self.query is not None:
            try:
                params = self.query.model_validate({k: v[0] for k, v in query.items() if k != "token"})
            except ValidationError as exc:
                raise _bad(exc, "query") from None
        model = self.body or NoBody
        try:
            data = model.model_validate_json(body or b"{}", strict=True)
        except ValidationError as exc:
            raise _bad(exc, "body") from None
        return data if self.body else None, params


def _bad(exc: ValidationError, where: str) -> BadRequest:
    errors = field_errors(exc, where)
    name, message = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return BadRequest(f"{name}: {message}{more}", field=name)


@dataclass
class Router:
    routes: list[Route] = field(default_factory=list)

    def route(
        self,
        method: str,
        pattern: str,
        *,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        open: bool = False,
        produces: str = "application/json",
    ) -> Callable[[Handler], Handler]:
        """Register ``fn`` for ``method`` and ``pattern``, with its input models."""

        def register(fn: Handler) -> Handler:
            compiled = re.compile(f"^{pattern}$")
            self.routes.append(Route(method, compiled, fn, body, query, open, produces))
            return fn

        return register

    def find(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        allowed = False
        for route in self.routes:
            found = route.pattern.match(path)
            if not found:
                continue
            allowed = True
            if route.method == method:
                return route, found.groupdict()
        if allowed:
            raise MethodNotAllowed(None, f"{method} {path[:200]}: method not allowed")
        raise NotFoundError(None, f"{method} {path[:200]}: no such endpoint")

"""A small WSGI application served by gevent's pywsgi.

Authentication: ``Authorization: Bearer <token>`` (or ``?token=`` for EventSource, which cannot set
headers). Tokens come from the config's ``tokens`` section. Nothing but ``/healthz`` is open:
``/metrics`` needs a token too unless ``metrics_open`` is set (Prometheus on loopback).
An agent token reaches only that agent's feed and state.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from http import HTTPStatus
from typing import Annotated, Any, Protocol
from urllib.parse import parse_qs

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import IntegrityError

from engine.api.auth import viewer
from engine.api.http import ApiError, BadRequest, Raw, Request, Router, TooLarge, Unauthorized, database_down
from engine.api.inputs import MAX_DEPTH, Body, line
from engine.config.model import Token
from engine.crm.lifecycle import IllegalTransition
from engine.cti import Hub
from engine.dialler.contacts import ContactImportError
from engine.esl.codec import UnsafeValue
from engine.metrics import Metrics
from engine.store.errors import Conflict, Gone, InvalidInput, NotFound
from engine.store.visibility import NotVisible, Viewer

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024
KEEPALIVE_SECONDS = 15.0
BREAK_REASON_MAX = 64  # the ACD's reason codes; engine.runtime.hotline checks the same before the ACD acts

# Errors raised below the edge, mapped to a status once, here; anything else is a logged JSON 500.
# KeyError and ValueError are the engine backends' "unknown" and "not now" (an illegal state change).
STATUS_OF: tuple[tuple[type[Exception], int], ...] = (
    (NotVisible, 403),  # the visibility policy (docs/security.md): checked before anything changes
    (InvalidInput, 400),
    (UnsafeValue, 400),  # refused by the dial grammar: nothing reached FreeSWITCH
    (ContactImportError, 400),
    (NotFound, 404),
    (Gone, 410),
    (Conflict, 409),
    (IllegalTransition, 409),
    (IntegrityError, 409),
    (KeyError, 404),
    (ValueError, 409),
)


class AgentActionBody(Body):
    reason: Annotated[str, line(BREAK_REASON_MAX, "agent_state_changes.reason")] | None = None


class Backend(Protocol):
    """What the API needs from the running engine."""

    def agents_view(self) -> list[dict[str, Any]]: ...

    def queues_view(self) -> list[dict[str, Any]]: ...

    def agent_action(self, agent_id: str, action: str, reason: str | None) -> dict[str, Any]: ...

    def reload(self) -> dict[str, Any]: ...


StartResponse = Callable[..., Any]


def _json(start: StartResponse, status: int, data: Any, headers: Sequence[tuple[str, str]] = ()) -> list[bytes]:
    body = json.dumps(data, default=str).encode()
    line = f"{status} {HTTPStatus(status).phrase}"
    start(line, [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *headers])
    return [body]


def json_depth(data: bytes) -> int:
    """How deep ``[`` and ``{`` nest in ``data`` (outside strings), without parsing it."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def read_body(environ: dict) -> bytes:
    """The raw request body: 413 beyond MAX_BODY bytes (announced or chunked), 400 nested beyond MAX_DEPTH."""
    raw_length = environ.get("CONTENT_LENGTH") or ""
    if raw_length:
        if not raw_length.isdigit() or len(raw_length) > 12:
            message = f"Content-Length: {raw_length[:20]!r} is not a number of bytes"
            raise BadRequest(message, field="header.Content-Length")
        length = int(raw_length)
        if length > MAX_BODY:
            raise TooLarge(None, f"body larger than {MAX_BODY} bytes", field="body")
        data = environ["wsgi.input"].read(length) if length else b""
    elif "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        data = environ["wsgi.input"].read(MAX_BODY + 1)
        if len(data) > MAX_BODY:
            raise TooLarge(None, f"body larger than {MAX_BODY} bytes", field="body")
    else:
        data = b""
    if json_depth(data) > MAX_DEPTH:
        raise BadRequest(f"body: JSON nested deeper than {MAX_DEPTH} levels", field="body")
    return data


def status_of(exc: Exception) -> int | None:
    """The HTTP status of an error raised below the edge (the one place they are mapped), None if unexpected."""
    if isinstance(exc, ApiError):
        return exc.status
    for kind, status in STATUS_OF:
        if isinstance(exc, kind):
            return status
    return None


def error_body(exc: Exception, status: int) -> dict[str, Any]:
    """``{"error": ..., "field": ...}``; a database constraint's message without its parameters."""
    if isinstance(exc, IntegrityError):
        detail = str(exc.orig).splitlines()[0] if exc.orig is not None else "constraint violated"
        return {"error": f"conflict: {detail}", "field": None}
    if isinstance(exc, KeyError) and exc.args:
        return {"error": f"not found: {exc.args[0]}", "field": None}
    return {"error": str(exc), "field": getattr(exc, "field", None)}


def make_app(
    backend: Backend,
    hub: Hub,
    metrics: Metrics,
    tokens: dict[str, Token],
    *,
    metrics_open: bool = False,
    modules: Sequence[Callable[[Router], None]] = (),
) -> Callable[[dict, StartResponse], Iterable[bytes]]:
    """Build the WSGI callable; each of ``modules`` registers a domain's routes on the router."""

    def authenticate(environ: dict) -> Token | None:
        header = environ.get("HTTP_AUTHORIZATION", "")
        secret = header[7:] if header.startswith("Bearer ") else ""
        if not secret:
            secret = parse_qs(environ.get("QUERY_STRING", "")).get("token", [""])[0]
        return tokens.get(secret)

    def feed(agent_id: str, reader: Viewer) -> Iterator[bytes]:
        sub = hub.subscribe(agent_id, lambda kind, data: reader.screen_pop(data) if kind == "screen_pop" else data)
        try:
            yield b": connected\n\n"
            while True:
                message = sub.get(timeout=KEEPALIVE_SECONDS)
                yield message.to_sse() if message else b": keep-alive\n\n"
        finally:
            sub.close()

    router = Router()
    route = router.route

    @route("GET", r"/api/agents/(?P<agent_id>[^/]+)/feed", produces="text/event-stream")
    def agent_feed(req: Request, agent_id: str) -> Raw:
        token = req.require("admin", "supervisor", agent=agent_id)
        stream = feed(agent_id, viewer(token))  # screen pops as the reader may see them (docs/security.md)
        return Raw("200 OK", [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")], stream)

    @route("GET", "/metrics", open=metrics_open, produces="text/plain")
    def metrics_text(req: Request) -> Raw:
        if not metrics_open:
            req.require("admin", "supervisor")
        data = generate_latest(metrics.registry)
        return Raw("200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(data)))], [data])

    @route("GET", "/api/agents")
    def list_agents(req: Request) -> Any:
        req.require("admin", "supervisor")
        return backend.agents_view()

    @route("GET", r"/api/agents/(?P<agent_id>[^/]+)")
    def one_agent(req: Request, agent_id: str) -> Any:
        """One agent as ``/api/agents`` lists them: the agent's own desktop reads its real state here."""
        req.require("admin", "supervisor", agent=agent_id)
        for view in backend.agents_view():
            if view["id"] == agent_id:
                return view
        raise ApiError(404, f"agent {agent_id}: no such agent")

    actions = "login|logout|ready|break|end_wrap_up"

    @route("POST", rf"/api/agents/(?P<agent_id>[^/]+)/(?P<action>{actions})", body=AgentActionBody)
    def agent_action(req: Request, agent_id: str, action: str) -> Any:
        """Log an agent in or out, make them ready, put them on break (``reason``) or end their wrap-up."""
        req.require("admin", "supervisor", agent=agent_id)
        return backend.agent_action(agent_id, action, req.input.reason)

    @route("GET", "/api/queues")
    def list_queues(req: Request) -> Any:
        req.require("admin", "supervisor")
        return backend.queues_view()

    @route("POST", "/api/reload")
    def reload(req: Request) -> Any:
        req.require("admin")
        return backend.reload()

    for register in modules:
        register(router)

    def app(environ: dict, start: StartResponse) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/")
        try:
            if path == "/healthz":
                return _json(start, 200, {"ok": True})
            route, groups = router.find(method, path)
            token = authenticate(environ)
            if token is None and not route.open:
                raise Unauthorized(None, "missing or unknown token")
            params = route.path_params(groups)
            query = parse_qs(environ.get("QUERY_STRING", ""))
            body = read_body(environ) if method in ("POST", "PUT", "PATCH") else b""
            data, query_model = route.validate(body, query)
            as_dict = data.model_dump(by_alias=True, exclude_unset=True) if data is not None else {}
            request = Request(method, path, query, token, as_dict, data, query_model)
            result = route.handler(request, **params)
            if isinstance(result, Raw):
                start(result.status, result.headers)
                return result.body
            return _json(start, 200, result)
        except Exception as error:
            exc = database_down(error) or error  # 503 + Retry-After, never 500, while the database is down
            status = status_of(exc)
            if status is None:
                log.exception("%s %s: unexpected error", method, path[:200])
                return _json(start, 500, {"error": "internal error (logged)", "field": None})
            headers = exc.headers if isinstance(exc, ApiError) else []
            return _json(start, status, error_body(exc, status), headers)

    return app

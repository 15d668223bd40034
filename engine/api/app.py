"""A small WSGI application served by gevent's pywsgi.

Authentication: ``Authorization: Bearer <token>`` (or ``?token=`` for EventSource, which cannot set
headers). Tokens come from the config's ``tokens`` section. Nothing but ``/healthz`` is open:
``/metrics`` needs a token too unless ``metrics_open`` is set (Prometheus on loopback).
An agent token reaches only that agent's feed and state.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from engine.config.model import Token
from engine.cti import Hub
from engine.metrics import Metrics

MAX_BODY = 64 * 1024
KEEPALIVE_SECONDS = 15.0


class ApiError(Exception):
    """An error with an HTTP status, returned to the client as ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Backend(Protocol):
    """What the API needs from the running engine."""

    def agents_view(self) -> list[dict[str, Any]]: ...

    def queues_view(self) -> list[dict[str, Any]]: ...

    def agent_action(self, agent_id: str, action: str, reason: str | None) -> dict[str, Any]: ...

    def reload(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    token: Token | None
    body: dict[str, Any]


StartResponse = Callable[..., Any]
_STATUS = {
    200: "200 OK",
    400: "400 Bad Request",
    401: "401 Unauthorized",
    403: "403 Forbidden",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    409: "409 Conflict",
    413: "413 Payload Too Large",
}


def _json(start: StartResponse, status: int, data: Any) -> list[bytes]:
    body = json.dumps(data, default=str).encode()
    start(_STATUS[status], [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def make_app(
    backend: Backend, hub: Hub, metrics: Metrics, tokens: dict[str, Token], *, metrics_open: bool = False
) -> Callable[[dict, StartResponse], Iterable[bytes]]:
    """Build the WSGI callable."""

    def authenticate(environ: dict) -> Token | None:
        header = environ.get("HTTP_AUTHORIZATION", "")
        secret = header[7:] if header.startswith("Bearer ") else ""
        if not secret:
            secret = parse_qs(environ.get("QUERY_STRING", "")).get("token", [""])[0]
        return tokens.get(secret)

    def read_body(environ: dict) -> dict[str, Any]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise ApiError(400, "bad Content-Length") from None
        if length > MAX_BODY:
            raise ApiError(413, f"body larger than {MAX_BODY} bytes")
        if not length:
            return {}
        try:
            data = json.loads(environ["wsgi.input"].read(length))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"body is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ApiError(400, "body must be a JSON object")
        return data

    def require(req: Request, *roles: str, agent: str | None = None) -> None:
        if req.token is None:
            raise ApiError(401, "missing or unknown token")
        if req.token.role == "agent" and agent is not None and req.token.agent == agent:
            return
        if req.token.role not in roles:
            raise ApiError(403, f"role {req.token.role!r} may not do this")

    def feed(req: Request, agent_id: str) -> Iterator[bytes]:
        sub = hub.subscribe(agent_id)
        try:
            yield b": connected\n\n"
            while True:
                message = sub.get(timeout=KEEPALIVE_SECONDS)
                yield message.to_sse() if message else b": keep-alive\n\n"
        finally:
            sub.close()

    routes: list[tuple[str, re.Pattern[str], Callable[..., Any]]] = []

    def route(method: str, pattern: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            routes.append((method, re.compile(f"^{pattern}$"), fn))
            return fn

        return register

    @route("GET", "/api/agents")
    def list_agents(req: Request) -> Any:
        require(req, "admin", "supervisor")
        return backend.agents_view()

    @route("POST", r"/api/agents/(?P<agent_id>[^/]+)/(?P<action>login|logout|ready|break|end_wrap_up)")
    def agent_action(req: Request, agent_id: str, action: str) -> Any:
        require(req, "admin", "supervisor", agent=agent_id)
        reason = req.body.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise ApiError(400, "reason must be a string")
        return backend.agent_action(agent_id, action, reason)

    @route("GET", "/api/queues")
    def list_queues(req: Request) -> Any:
        require(req, "admin", "supervisor")
        return backend.queues_view()

    @route("POST", "/api/reload")
    def reload(req: Request) -> Any:
        require(req, "admin")
        return backend.reload()

    def app(environ: dict, start: StartResponse) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/")
        try:
            if path == "/healthz":
                return _json(start, 200, {"ok": True})
            token = authenticate(environ)
            if path == "/metrics":
                if not metrics_open and token is None:
                    raise ApiError(401, "missing or unknown token")
                data = generate_latest(metrics.registry)
                start("200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(data)))])
                return [data]
            query = parse_qs(environ.get("QUERY_STRING", ""))
            match = re.match(r"^/api/agents/(?P<agent_id>[^/]+)/feed$", path)
            if match and method == "GET":
                req = Request(method, path, query, token, {})
                require(req, "admin", "supervisor", agent=match["agent_id"])
                start("200 OK", [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")])
                return feed(req, match["agent_id"])
            allowed = False
            for verb, pattern, handler in routes:
                found = pattern.match(path)
                if not found:
                    continue
                allowed = True
                if verb == method:
                    req = Request(method, path, query, token, read_body(environ) if method == "POST" else {})
                    return _json(start, 200, handler(req, **found.groupdict()))
            raise ApiError(
                405 if allowed else 404,
                f"{method} {path}: " + ("method not allowed" if allowed else "no such endpoint"),
            )
        except ApiError as exc:
            return _json(start, exc.status, {"error": str(exc)})
        except KeyError as exc:
            return _json(start, 404, {"error": f"not found: {exc.args[0]}"})
        except ValueError as exc:
            return _json(start, 409, {"error": str(exc)})

    return app

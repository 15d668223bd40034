"""A small WSGI application served by gevent's pywsgi.

Authentication: ``Authorization: Bearer <token>`` (or ``?token=`` for EventSource, which cannot set
headers). Tokens come from the config's ``tokens`` section. Nothing but ``/healthz`` is open:
``/metrics`` needs a token too unless ``metrics_open`` is set (Prometheus on loopback).
An agent token reaches only that agent's feed and state.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import parse_qs

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from engine.api.auth import viewer
from engine.api.http import ApiError, Raw, Request, Router
from engine.config.model import Token
from engine.cti import Hub
from engine.metrics import Metrics
from engine.store.visibility import Viewer

MAX_BODY = 64 * 1024
KEEPALIVE_SECONDS = 15.0


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

    @route("GET", r"/api/agents/(?P<agent_id>[^/]+)/feed")
    def agent_feed(req: Request, agent_id: str) -> Raw:
        token = req.require("admin", "supervisor", agent=agent_id)
        stream = feed(agent_id, viewer(token))  # screen pops as the reader may see them (docs/security.md)
        return Raw("200 OK", [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")], stream)

    @route("GET", "/metrics")
    def metrics_text(req: Request) -> Raw:
        if not metrics_open:
            req.require("admin", "supervisor")
        data = generate_latest(metrics.registry)
        return Raw("200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(data)))], [data])

    @route("GET", "/api/agents")
    def list_agents(req: Request) -> Any:
        req.require("admin", "supervisor")
        return backend.agents_view()

    @route("POST", r"/api/agents/(?P<agent_id>[^/]+)/(?P<action>login|logout|ready|break|end_wrap_up)")
    def agent_action(req: Request, agent_id: str, action: str) -> Any:
        req.require("admin", "supervisor", agent=agent_id)
        reason = req.body.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise ApiError(400, "reason must be a string")
        return backend.agent_action(agent_id, action, reason)

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
            handler, groups = router.find(method, path)
            query = parse_qs(environ.get("QUERY_STRING", ""))
            body = read_body(environ) if method in ("POST", "PUT", "PATCH") else {}
            result = handler(Request(method, path, query, authenticate(environ), body), **groups)
            if isinstance(result, Raw):
                start(result.status, result.headers)
                return result.body
            return _json(start, 200, result)
        except ApiError as exc:
            return _json(start, exc.status, {"error": str(exc)}, exc.headers)
        except KeyError as exc:
            return _json(start, 404, {"error": f"not found: {exc.args[0]}"})
        except ValueError as exc:
            return _json(start, 409, {"error": str(exc)})

    return app

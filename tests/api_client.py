"""One API module served alone over real HTTP, for the focused tests of ``engine/api/*``.

``serve(modules, tokens)`` starts ``make_app`` with only the given modules' routes (no engine behind
the core routes) on an ephemeral port; ``Api.call`` sends one request with ``http.client`` and returns
the status, headers and the decoded JSON (or the raw bytes of a non-JSON answer).
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from gevent.pywsgi import WSGIServer

from engine.api.app import make_app
from engine.api.http import Router
from engine.config.model import Token
from engine.cti import Hub
from engine.metrics import Metrics


class NoEngine:
    """The core routes' backend: a module test never reaches it."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the core backend's {name} was called")


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: Any  # decoded JSON, or bytes when the answer is not JSON

    @property
    def error(self) -> tuple[int, str | None]:
        """(status, field) of an error answer."""
        return self.status, self.body.get("field") if isinstance(self.body, dict) else None


@dataclass
class Api:
    port: int
    metrics: Metrics

    def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """Send ``body`` as JSON (or ``raw`` bytes) with ``token`` as the bearer token."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        sent = {"Content-Type": "application/json", **(headers or {})}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request(method, path, body=data, headers=sent)
            response = conn.getresponse()
            payload = response.read()
            got = {k.lower(): v for k, v in response.getheaders()}
        finally:
            conn.close()
        if got.get("content-type") == "application/json":
            return Answer(response.status, got, json.loads(payload))
        return Answer(response.status, got, payload)


@contextmanager
def serve(
    modules: Sequence[Callable[[Router], None]],
    tokens: Mapping[str, Token],
    metrics: Metrics | None = None,
) -> Iterator[Api]:
    """The modules' routes behind ``make_app`` on 127.0.0.1, stopped afterwards."""
    metrics = metrics or Metrics()
    app = make_app(NoEngine(), Hub(), metrics, tokens, modules=modules)  # type: ignore[arg-type]
    server = WSGIServer(("127.0.0.1", 0), app, log=None)
    server.start()
    try:
        yield Api(server.server_port, metrics)
    finally:
        server.stop(timeout=1)


ADMIN, SUPERVISOR, AGENT_1001, AGENT_1002 = "admin-token", "super-token", "agent-1001-token", "agent-1002-token"
TOKENS: dict[str, Token] = {
    ADMIN: Token(role="admin"),
    SUPERVISOR: Token(role="supervisor"),
    AGENT_1001: Token(role="agent", agent="1001"),
    AGENT_1002: Token(role="agent", agent="1002"),
}

"""HTTP routes of keep-your-place callbacks: list them, cancel one (supervisors and admins)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Protocol

from engine.api.http import Request, Router
from engine.api.inputs import Query, line


class CallbacksQuery(Query):
    queue: Annotated[str, line(64, "queue_callbacks.queue")] | None = None
    all: Literal["0", "1"] = "0"


class CallbacksBackend(Protocol):
    """What these routes need (``engine.runtime.callbacks.Callbacks``)."""

    def views(self, queue: str | None = None, include_done: bool = False) -> list[dict[str, Any]]: ...

    def cancel(self, callback_id: int) -> dict[str, Any]: ...


def register(router: Router, backend: CallbacksBackend) -> None:
    """Add the callback routes to ``router``."""

    @router.route("GET", "/api/callbacks", query=CallbacksQuery)
    def list_callbacks(req: Request) -> Any:
        """Open callbacks; ``?queue=NAME`` one queue's, ``?all=1`` also those done."""
        req.require("admin", "supervisor")
        return backend.views(req.params.queue, include_done=req.params.all == "1")

    @router.route("GET", "/api/callbacks/next")
    def next_callback(req: Request) -> Any:
        """The open callback due first (retrying ones at their retry time, waiting ones by request time), or
        null; any signed-in user (the agent desktop), without the customer's number for agents."""
        token = req.require("admin", "supervisor", "agent")
        views = backend.views(None)
        if not views:
            return None
        first = min(views, key=lambda v: (v["retry_at"] or v["requested_at"], v["id"]))
        hidden = ("number", "caller", "call") if token.role == "agent" else ()
        return {key: value for key, value in first.items() if key not in hidden}

    @router.route("POST", r"/api/callbacks/(?P<callback_id>\d+)/cancel")
    def cancel(req: Request, callback_id: str) -> Any:
        req.require("admin", "supervisor")
        return backend.cancel(int(callback_id))

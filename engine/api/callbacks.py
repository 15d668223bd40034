"""HTTP routes of keep-your-place callbacks: list them, cancel one (supervisors and admins)."""

from __future__ import annotations

from typing import Any, Protocol

from engine.api.http import ApiError, Request, Router


class CallbacksBackend(Protocol):
    """What these routes need (``engine.runtime.callbacks.Callbacks``)."""

    def views(self, queue: str | None = None, include_done: bool = False) -> list[dict[str, Any]]: ...

    def cancel(self, callback_id: int) -> dict[str, Any]: ...


def register(router: Router, backend: CallbacksBackend) -> None:
    """Add the callback routes to ``router``."""

    @router.route("GET", "/api/callbacks")
    def list_callbacks(req: Request) -> Any:
        """Open callbacks; ``?queue=NAME`` one queue's, ``?all=1`` also those done."""
        req.require("admin", "supervisor")
        include = req.query.get("all", ["0"])[0]
        if include not in ("0", "1"):
            raise ApiError(400, "all must be 0 or 1")
        return backend.views(req.query.get("queue", [None])[0], include_done=include == "1")

    @router.route("POST", r"/api/callbacks/(?P<callback_id>\d+)/cancel")
    def cancel(req: Request, callback_id: str) -> Any:
        req.require("admin", "supervisor")
        return backend.cancel(int(callback_id))

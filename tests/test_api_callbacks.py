"""engine/api/callbacks.py alone over HTTP: listing and cancelling keep-your-place callbacks over a
scripted backend (what it is asked, and what it answers or raises as engine.runtime.callbacks does)."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest

from engine.api import callbacks
from tests.api_client import ADMIN, AGENT_1001, AGENT_1002, SUPERVISOR, TOKENS, serve

OPEN = {"id": 7, "queue": "sales", "number": "+442079460018", "status": "pending"}


class ScriptedCallbacks:
    """Records what the routes ask; ``cancel`` raises as the runtime does for an unknown or busy callback."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, Any, Any]] = []
        self.open: list[dict[str, Any]] = [OPEN]

    def views(self, queue: str | None = None, include_done: bool = False) -> list[dict[str, Any]]:
        self.asked.append(("views", queue, include_done))
        return self.open

    def cancel(self, callback_id: int) -> dict[str, Any]:
        self.asked.append(("cancel", callback_id, None))
        if callback_id == 404:
            raise KeyError(f"callback {callback_id}")
        if callback_id == 409:
            raise ValueError(f"callback {callback_id} is being dialled or talked to")
        return {**OPEN, "id": callback_id, "status": "cancelled"}


@pytest.fixture
def api():
    backend = ScriptedCallbacks()
    with serve([partial(callbacks.register, backend=backend)], TOKENS) as api:
        api.backend = backend  # type: ignore[attr-defined]
        yield api


def test_staff_list_open_callbacks_of_one_queue_or_all_including_done(api) -> None:
    assert api.call("GET", "/api/callbacks", ADMIN).body == [OPEN]
    assert api.call("GET", "/api/callbacks?queue=sales&all=1", SUPERVISOR).status == 200
    assert api.call("GET", "/api/callbacks?all=0", ADMIN).status == 200
    assert api.backend.asked == [("views", None, False), ("views", "sales", True), ("views", None, False)]


def test_staff_cancel_a_callback_by_its_id(api) -> None:
    answer = api.call("POST", "/api/callbacks/12/cancel", SUPERVISOR)
    assert (answer.status, answer.body["id"], answer.body["status"]) == (200, 12, "cancelled")
    assert api.backend.asked == [("cancel", 12, None)]


def test_an_unknown_callback_is_404_and_one_being_dialled_is_409_naming_it(api) -> None:
    unknown = api.call("POST", "/api/callbacks/404/cancel", ADMIN)
    assert (unknown.status, unknown.body["error"]) == (404, "not found: callback 404")
    busy = api.call("POST", "/api/callbacks/409/cancel", ADMIN)
    assert (busy.status, busy.body["error"]) == (409, "callback 409 is being dialled or talked to")


def test_agents_and_strangers_neither_list_nor_cancel(api) -> None:
    for method, path in (("GET", "/api/callbacks"), ("POST", "/api/callbacks/12/cancel")):
        assert api.call(method, path, AGENT_1001).status == 403
        assert api.call(method, path, "not-a-token").status == 401
        assert api.call(method, path).status == 401
    assert api.backend.asked == []


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/callbacks?all=yes", "query.all"),
        ("/api/callbacks?queue=" + "q" * 65, "query.queue"),
        ("/api/callbacks?queue=sa%0Ales", "query.queue"),
    ],
)
def test_a_bad_query_is_400_naming_the_parameter_and_reaches_no_backend(api, path: str, field: str) -> None:
    answer = api.call("GET", path, ADMIN)
    assert answer.error == (400, field) and answer.body["error"].startswith(field)
    assert api.backend.asked == []


def test_a_callback_id_beyond_the_database_range_or_a_body_is_refused(api) -> None:
    assert api.call("POST", f"/api/callbacks/{2**31}/cancel", ADMIN).error == (400, "path.callback_id")
    assert api.call("POST", "/api/callbacks/12/cancel", ADMIN, {"why": "x"}).error == (400, "body.why")
    assert api.call("POST", "/api/callbacks/x/cancel", ADMIN).status == 404
    assert api.call("DELETE", "/api/callbacks/12/cancel", ADMIN).status == 405
    assert api.backend.asked == []


WAITING = {
    "id": 3,
    "queue": "sales",
    "number": "+8613900000001",
    "caller": "+8613900000001",
    "call": "cb-3",
    "status": "pending",
    "requested_at": "2026-11-23T10:05:00+00:00",
    "retry_at": None,
    "attempts": 0,
}
RETRYING = {**WAITING, "id": 4, "queue": "billing", "number": "+8613900000002", "caller": "+8613900000002",
            "call": "cb-4", "status": "retry", "requested_at": "2026-11-23T09:00:00+00:00",
            "retry_at": "2026-11-23T10:20:00+00:00", "attempts": 1}  # fmt: skip


def test_the_next_callback_due_is_the_earliest_and_agents_do_not_see_the_number(api) -> None:
    api.backend.open = [RETRYING, WAITING]  # waiting since 10:05 comes before a retry at 10:20
    staff = api.call("GET", "/api/callbacks/next", SUPERVISOR)
    assert (staff.status, staff.body) == (200, WAITING)
    agent = api.call("GET", "/api/callbacks/next", AGENT_1001)
    assert (agent.status, agent.body) == (200, {
        "id": 3, "queue": "sales", "status": "pending", "requested_at": "2026-11-23T10:05:00+00:00",
        "retry_at": None, "attempts": 0,
    })  # fmt: skip
    api.backend.open = [{**WAITING, "requested_at": "2026-11-23T10:30:00+00:00"}, RETRYING]
    assert api.call("GET", "/api/callbacks/next", AGENT_1001).body["id"] == 4  # now the retry is due first


def test_no_open_callback_is_null_and_strangers_are_refused(api) -> None:
    api.backend.open = []
    answer = api.call("GET", "/api/callbacks/next", AGENT_1002)
    assert (answer.status, answer.body) == (200, None)
    assert api.call("GET", "/api/callbacks/next", "not-a-token").status == 401
    assert api.call("GET", "/api/callbacks/next").status == 401

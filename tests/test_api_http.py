"""engine/api/http.py over HTTP: a router of test routes declaring their input, served by make_app. What a
client sees: 404/405 naming the request, path ids in the database's range, bodies and query strings
checked against the route's models with the field named, roles, and an error's own status and headers."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from pydantic import Field

from engine.api.http import ApiError, BadRequest, Request, Router
from engine.api.inputs import Body, Id, LimitQuery, line
from tests.api_client import ADMIN, AGENT_1001, AGENT_1002, SUPERVISOR, TOKENS, serve


class NoteBody(Body):
    title: Annotated[str, line(20, None)]
    count: Annotated[int, Field(ge=0, le=9)] = 0
    parent: Id | None = None


def _module(seen: list[Any]):
    def register(router: Router) -> None:
        @router.route("POST", r"/t/notes/(?P<nid>\d+)", body=NoteBody)
        def post_note(req: Request, nid: int) -> Any:
            req.require("admin")
            seen.append((nid, req.input.title, req.body))
            return {"nid": nid, "title": req.input.title}

        @router.route("GET", r"/t/notes/(?P<nid>\d+)", query=LimitQuery)
        def get_note(req: Request, nid: int) -> Any:
            req.require("admin", "supervisor")
            seen.append((nid, req.params.limit))
            return {"nid": nid, "limit": req.params.limit}

        @router.route("POST", r"/t/agents/(?P<agent>[^/]+)/poke")
        def poke(req: Request, agent: str) -> Any:
            token = req.require("admin", agent=agent)
            seen.append((agent, token.role))
            return {"agent": agent}

        @router.route("GET", "/t/limited")
        def limited(req: Request) -> Any:
            raise ApiError(429, "slow down", [("Retry-After", "7")])

        @router.route("GET", "/t/bad")
        def bad(req: Request) -> Any:
            raise BadRequest("query.when: not a time", field="query.when")

        @router.route("GET", "/t/open", open=True)
        def open_route(req: Request) -> Any:
            return {"token": req.token is not None}

    return register


@pytest.fixture
def api():
    seen: list[Any] = []
    with serve([_module(seen)], TOKENS) as api:
        api.seen = seen  # type: ignore[attr-defined]
        yield api


def test_a_valid_request_reaches_its_handler_with_typed_input(api) -> None:
    answer = api.call("POST", "/t/notes/42", ADMIN, {"title": "hello", "count": 3})
    assert (answer.status, answer.body) == (200, {"nid": 42, "title": "hello"})
    assert api.call("GET", "/t/notes/42?limit=7", SUPERVISOR).body == {"nid": 42, "limit": 7}
    assert api.call("GET", "/t/notes/42", SUPERVISOR).body == {"nid": 42, "limit": 50}
    assert api.seen == [(42, "hello", {"title": "hello", "count": 3}), (42, 7), (42, 50)]


def test_an_unknown_path_is_404_and_a_known_path_with_another_method_is_405(api) -> None:
    missing = api.call("GET", "/t/nothing", ADMIN)
    assert (missing.status, missing.body) == (404, {"error": "GET /t/nothing: no such endpoint", "field": None})
    wrong = api.call("DELETE", "/t/notes/1", ADMIN)
    assert (wrong.status, wrong.body["error"]) == (405, "DELETE /t/notes/1: method not allowed")
    assert api.call("GET", "/t/notes/x", ADMIN).status == 404  # not an id: no route has that shape
    assert api.seen == []


@pytest.mark.parametrize("nid", [str(2**31), "9" * 11, str(2**63 + 1)])
def test_a_path_id_beyond_the_databases_integer_is_400_naming_it(api, nid: str) -> None:
    answer = api.call("GET", f"/t/notes/{nid}", ADMIN)
    assert answer.error == (400, "path.nid") and answer.body["error"].startswith("path.nid: ")
    assert str(2**31 - 1) in answer.body["error"]
    assert api.call("GET", f"/t/notes/{2**31 - 1}", ADMIN).status == 200


@pytest.mark.parametrize("agent", ["a%0Ab", "a%00b", "x" * 129])
def test_a_path_text_with_control_characters_or_too_long_is_400(api, agent: str) -> None:
    assert api.call("POST", f"/t/agents/{agent}/poke", ADMIN).error == (400, "path.agent")
    assert api.seen == []


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        (b'{"title": "x" * 3}', "body", "is not valid JSON"),
        (b"[1, 2]", "body", "must be a JSON object"),
        (b'"title"', "body", "must be a JSON object"),
        (b"{}", "body.title", "is required"),
        (b'{"title": 5}', "body.title", "must be a string"),
        (b'{"title": "a\\nb"}', "body.title", "must not contain control characters"),
        (b'{"title": "x", "count": "3"}', "body.count", "must be an integer"),
        (b'{"title": "x", "count": 10}', "body.count", "less than or equal to 9"),
        (b'{"title": "x", "count": 1.5}', "body.count", "must be an integer"),
        (b'{"title": "x", "parent": 0}', "body.parent", "greater than or equal to 1"),
        (b'{"title": "x", "colour": "red"}', "body.colour", "is not a field of this operation"),
        (b'{"title": "' + b"t" * 21 + b'"}', "body.title", "at most 20 characters"),
    ],
)
def test_a_body_that_breaks_the_routes_model_is_400_naming_the_field(api, raw, field, message) -> None:
    answer = api.call("POST", "/t/notes/1", ADMIN, raw=raw)
    assert answer.error == (400, field), answer.body
    assert answer.body["error"].startswith(f"{field}: ") and message in answer.body["error"], answer.body
    assert api.seen == []


def test_several_bad_fields_name_the_first_and_count_the_rest(api) -> None:
    answer = api.call("POST", "/t/notes/1", ADMIN, {"count": -1, "parent": "x"})
    assert answer.status == 400 and answer.body["error"].endswith("(and 2 more)")


def test_a_route_that_takes_no_body_refuses_one(api) -> None:
    assert api.call("POST", "/t/agents/1001/poke", ADMIN).status == 200
    assert api.call("POST", "/t/agents/1001/poke", ADMIN, {}).status == 200
    assert api.call("POST", "/t/agents/1001/poke", ADMIN, {"force": True}).error == (400, "body.force")


@pytest.mark.parametrize(("query", "field"), [("limit=x", "query.limit"), ("limit=0", "query.limit")])
def test_a_bad_query_parameter_is_400_and_so_is_an_unknown_one(api, query: str, field: str) -> None:
    assert api.call("GET", f"/t/notes/1?{query}", ADMIN).error == (400, field)
    assert api.call("GET", "/t/notes/1?colour=red", ADMIN).error == (400, "query.colour")  # as the document says
    assert api.call("GET", "/t/notes/1?=red", ADMIN).status == 400  # even without a name
    assert api.call("GET", f"/t/notes/1?token={ADMIN}", None).status == 200  # EventSource's token is no parameter


def test_roles_no_token_is_401_a_wrong_role_403_and_an_agent_reaches_only_their_own(api) -> None:
    assert api.call("POST", "/t/notes/1", None, {"title": "x"}).status == 401
    assert api.call("POST", "/t/notes/1", "forged", {"title": "x"}).body["error"] == "missing or unknown token"
    wrong = api.call("POST", "/t/notes/1", SUPERVISOR, {"title": "x"})
    assert (wrong.status, wrong.body["error"]) == (403, "role 'supervisor' may not do this")
    assert api.call("POST", "/t/agents/1001/poke", AGENT_1001).status == 200
    assert api.call("POST", "/t/agents/1001/poke", AGENT_1002).status == 403
    assert api.call("POST", "/t/agents/1001/poke", SUPERVISOR).status == 403
    assert api.seen == [("1001", "agent")]


def test_an_open_route_needs_no_token_and_still_sees_one_given(api) -> None:
    assert api.call("GET", "/t/open").body == {"token": False}
    assert api.call("GET", "/t/open", ADMIN).body == {"token": True}


def test_an_error_carries_its_own_status_headers_and_field(api) -> None:
    limited = api.call("GET", "/t/limited", ADMIN)
    assert (limited.status, limited.headers["retry-after"], limited.body) == (
        429,
        "7",
        {"error": "slow down", "field": None},
    )
    bad = api.call("GET", "/t/bad", ADMIN)
    assert (bad.status, bad.body) == (400, {"error": "query.when: not a time", "field": "query.when"})

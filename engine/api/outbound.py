"""HTTP endpoints of outbound campaigns: create, import contacts, start/pause/finish, status, dispositions and
callbacks, and the do-not-call list."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, JsonValue, model_validator
from sqlalchemy.orm import Session, sessionmaker

from engine.api.http import ApiError, Request, Router
from engine.api.inputs import Body, Id, Query, line, text
from engine.campaigns.manager import Campaigns
from engine.dialler import campaign as rules
from engine.dialler.compliance import parse_dnc
from engine.dialler.contacts import ContactImportError, normalise_number
from engine.store import outbound as store
from engine.store.errors import Conflict, Gone, InvalidInput, NotFound

CREATE_FIELDS = (
    "caller_id",
    "queue",
    "region",
    "gateway",
    "dial_mode",
    "dial_params",
    "compliance",
    "dispositions",
    "amd_rule",
    "abandon_message",
    "machine_message",
)


Name = Annotated[str, line(64, "campaigns.name")]
Region = Annotated[str, Field(max_length=2, pattern=r"^[A-Z]{2}$", json_schema_extra={"x-column": "campaigns.region"})]
Code = Annotated[str, line(64, "campaigns.dispositions")]
Settings = Annotated[dict[Annotated[str, line(64, None)], JsonValue], Field(max_length=30)]


class CampaignBody(Body):
    name: Name
    caller_id: Annotated[str, line(32, "campaigns.caller_id")]
    queue: Annotated[str, line(64, "campaigns.queue")]
    region: Region = "GB"
    gateway: Annotated[str, line(255, "campaigns.gateway")] = "sofia/gateway/trunk/"
    dial_mode: Annotated[str, line(16, "campaigns.dial_mode")] = "progressive"
    dial_params: Settings | None = None
    compliance: Settings | None = None
    dispositions: Annotated[list[Annotated[str, line(64, "campaigns.dispositions")]], Field(max_length=50)] | None = (
        None
    )
    amd_rule: Annotated[str, line(16, "campaigns.amd_rule")] = "hang_up"
    abandon_message: Annotated[str, line(1024, "campaigns.abandon_message")] | None = None
    machine_message: Annotated[str, line(1024, "campaigns.machine_message")] | None = None

    @model_validator(mode="after")
    def _rules(self) -> CampaignBody:
        """The dialler's own checks of the settings, whatever JSON they hold (a list where a number belongs)."""
        try:
            rules.validate(self.dial_mode, self.dial_params or {}, self.compliance or {}, self.amd_rule)
        except (TypeError, KeyError, AttributeError, IndexError) as exc:
            raise ValueError(f"dial_params or compliance: a setting has the wrong shape ({exc})") from None
        return self


class ContactsBody(Body):
    csv: Annotated[str, text(60_000, None, min_length=1)]  # parsed into contacts, each field checked there
    default_tz: Annotated[str, line(64, None)] | None = None


class DispositionBody(Body):
    agent: Annotated[str, line(32, "call_attempts.agent_id")]
    code: Annotated[str, line(64, "campaign_contacts.disposition")]
    notes: Annotated[str, text(10_000, "campaign_contacts.notes")] = ""
    callback_at: Annotated[str, line(40, None)] | None = None


class PreviewBody(Body):
    action: Literal["dial", "skip"]
    contact_id: Id


class DncBody(Body):
    numbers: Annotated[list[Annotated[str, line(40, None)]], Field(min_length=1, max_length=10_000)]
    source: Annotated[str, line(64, "dnc_entries.source")] = store.INTERNAL_DNC
    region: Region = "GB"


class RegionQuery(Query):
    region: Region = "GB"


@contextmanager
def errors() -> Iterator[None]:
    """Store errors as HTTP errors: unknown -> 404, deleted on purpose -> 410, bad field -> 400, conflict -> 409."""
    try:
        yield
    except NotFound as exc:
        raise ApiError(404, str(exc)) from None
    except Gone as exc:
        raise ApiError(410, str(exc)) from None
    except (InvalidInput, ContactImportError) as exc:
        raise ApiError(400, str(exc)) from None
    except Conflict as exc:
        raise ApiError(409, str(exc)) from None


def _text(req: Request, field: str) -> str:
    value = req.body.get(field)
    if not isinstance(value, str) or not value:
        raise ApiError(400, f"{field}: required string")
    return value


def register(router: Router, campaigns: Campaigns, sessions: sessionmaker[Session]) -> None:
    """Add the outbound routes to ``router``."""
    route: Callable = router.route

    @route("GET", "/api/campaigns")
    def list_campaigns(req: Request) -> Any:
        req.require("admin", "supervisor")
        with sessions() as s:
            return [{"name": c.name, "state": c.state, "dial_mode": c.dial_mode} for c in store.list_campaigns(s)]

    @route("POST", "/api/campaigns", body=CampaignBody)
    def create(req: Request) -> Any:
        req.require("admin")
        name = _text(req, "name")
        settings = {k: req.body[k] for k in CREATE_FIELDS if k in req.body}
        with errors(), sessions.begin() as s:
            row = store.create_campaign(s, name, **settings)
            return {"name": row.name, "state": row.state}

    @route("GET", r"/api/campaigns/(?P<name>[^/]+)")
    def status(req: Request, name: str) -> Any:
        req.require("admin", "supervisor")
        with errors():
            return campaigns.status(name)

    @route("POST", r"/api/campaigns/(?P<name>[^/]+)/(?P<action>start|pause|finish)")
    def change(req: Request, name: str, action: str) -> Any:
        req.require("admin", "supervisor")
        state = {"start": "running", "pause": "paused", "finish": "finished"}[action]
        with errors():
            return campaigns.set_state(name, state)

    @route("POST", r"/api/campaigns/(?P<name>[^/]+)/contacts", body=ContactsBody)
    def import_contacts(req: Request, name: str) -> Any:
        req.require("admin")
        text = _text(req, "csv")
        with errors(), sessions.begin() as s:
            campaign = store.get_campaign(s, name)
            return store.import_contacts_csv(s, campaign, text.splitlines(keepends=True), req.body.get("default_tz"))

    @route("POST", r"/api/campaigns/(?P<name>[^/]+)/contacts/(?P<contact_id>\d+)/disposition", body=DispositionBody)
    def disposition(req: Request, name: str, contact_id: str) -> Any:
        req.require("admin", "supervisor", "agent")  # who is asking, before reading what they ask
        agent = _text(req, "agent")
        req.require("admin", "supervisor", agent=agent)
        callback = req.body.get("callback_at")
        try:
            callback_at = datetime.fromisoformat(callback) if callback else None
        except (TypeError, ValueError):
            raise ApiError(400, f"callback_at: {callback!r} is not an ISO 8601 time") from None
        with errors():
            return campaigns.disposition(
                name, int(contact_id), agent, _text(req, "code"), notes=str(req.body.get("notes", "")),
                callback_at=callback_at,
            )  # fmt: skip

    @route("GET", r"/api/campaigns/(?P<name>[^/]+)/preview/(?P<agent>[^/]+)")
    def preview_next(req: Request, name: str, agent: str) -> Any:
        req.require("admin", "supervisor", agent=agent)
        with errors():
            return {"contact": campaigns.running(name).preview_next(agent)}

    @route("POST", r"/api/campaigns/(?P<name>[^/]+)/preview/(?P<agent>[^/]+)", body=PreviewBody)
    def preview_decide(req: Request, name: str, agent: str) -> Any:
        req.require("admin", "supervisor", agent=agent)
        action, contact_id = req.body.get("action"), req.body.get("contact_id")
        if action not in ("dial", "skip") or not isinstance(contact_id, int):
            raise ApiError(400, "body: needs action 'dial' or 'skip' and the integer contact_id of the preview")
        with errors():
            return campaigns.running(name).preview_decide(agent, contact_id, action)

    @route("POST", "/api/dnc", body=DncBody)
    def dnc_add(req: Request) -> Any:
        req.require("admin", "supervisor")
        numbers = req.body.get("numbers")
        if not isinstance(numbers, list) or not all(isinstance(n, str) for n in numbers):
            raise ApiError(400, "numbers: required list of strings")
        source = str(req.body.get("source", store.INTERNAL_DNC))
        try:
            parsed = parse_dnc(numbers, str(req.body.get("region", "GB")), "numbers")
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        with errors(), sessions.begin() as s:
            return {"added": store.add_dnc(s, parsed, source), "source": source}

    @route("GET", r"/api/dnc/(?P<number>[^/]+)", query=RegionQuery)
    def dnc_check(req: Request, number: str) -> Any:
        req.require("admin", "supervisor")
        region = req.params.region
        try:
            e164 = normalise_number(number, region)
        except ValueError as exc:
            raise ApiError(400, f"number: {exc}") from None
        with sessions() as s:
            return {"number": e164, "listed_on": store.dnc_sources(s, [e164]).get(e164)}

"""HTTP routes of the ACD's call control: an agent's own call (hold, unhold, hang up, transfer,
record, dial a number), supervisor actions (listen, whisper, barge, force break/logout), their audit log, a
finished call (its CDR and segments) and its recordings, and recording rules ("record these agents during
this time window").

Every action is audited by the backend (who: the token's role and agent; what; when; result).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Protocol

from pydantic import Field

from engine.api.http import ApiError, BadRequest, Raw, Request, Router
from engine.api.inputs import LINE, Body, IsoTime, LimitQuery, Query, line
from engine.api.outbound import errors

AGENT_ACTIONS = "hold|unhold|hangup|transfer|record|dial|consult|complete|conference|leave|cancel"
DIALLABLE = re.compile(r"\+?[0-9*#]{2,32}")
SUPERVISOR_ACTIONS = "listen|whisper|barge|force_break|force_logout"


Detail = Annotated[str, line(255, "call_control_actions.detail")]
AgentId = Annotated[str, line(32, "recording_rules.agent_id")]


class CallBody(Body):
    """``target`` for transfer and consult; ``number`` and ``override_dnc`` for dial."""

    target: Detail | None = None
    # one line here; whether it is dialable is _dial_args's to say, in words (a pattern mismatch here would
    # be reported as "control characters")
    number: Annotated[str, Field(max_length=64, pattern=LINE, json_schema_extra={"x-column": None})] | None = None
    override_dnc: bool = False


class SuperviseBody(Body):
    """``contact`` (the supervisor's phone) for listen, whisper and barge; ``reason`` for force_break."""

    contact: Detail | None = None
    reason: Annotated[str, line(64, "agent_state_changes.reason")] | None = None


class RuleBody(Body):
    agent: AgentId
    starts: IsoTime = Field(alias="from")
    until: IsoTime
    note: Annotated[str, line(255, "recording_rules.note", min_length=0)] = ""


class AgentQuery(Query):
    agent: AgentId | None = None


class LogQuery(LimitQuery):
    agent: AgentId | None = None
    limit: Annotated[int, Field(ge=1, le=500)] = 100


class CallControlBackend(Protocol):
    """Call control (``engine.runtime.call_control.CallControl``)."""

    def act(self, actor: str, agent_id: str, action: str, **args: Any) -> dict[str, Any]: ...

    def log(self, agent_id: str | None, limit: int) -> list[dict[str, Any]]: ...


class AcdBackend(Protocol):
    """What these routes need from the running engine (``engine.runtime.hotline.Hotline``)."""

    def call_recordings(self, call_id: str) -> list[dict[str, Any]]: ...

    def recording_file(self, call_id: str, recording_id: int) -> str: ...

    def call_record(self, call_id: str) -> dict[str, Any]: ...

    def add_recording_rule(self, actor: str, agent_id: str, starts: str, ends: str, note: str) -> dict[str, Any]: ...

    def recording_rules(self, agent_id: str | None = None) -> list[dict[str, Any]]: ...

    def remove_recording_rule(self, rule_id: int) -> dict[str, Any]: ...


def _actor(req: Request) -> str:
    token = req.require("admin", "supervisor", "agent")
    return f"{token.role}:{token.agent}" if token.agent else token.role


def _strings(req: Request, *names: str) -> dict[str, str | None]:
    out = {name: req.body.get(name) for name in names}
    for name, value in out.items():
        if value is not None and not isinstance(value, str):
            raise ApiError(400, f"{name} must be a string")
    return out


def _dial_args(req: Request) -> dict[str, Any]:
    number = _strings(req, "number")["number"]
    if not number or not DIALLABLE.fullmatch(number):
        message = f"number: {number!r} is not a dialable number (digits, *, #, an optional leading +)"
        raise BadRequest(message, field="body.number")
    override = req.body.get("override_dnc", False)
    if not isinstance(override, bool):
        raise BadRequest("override_dnc must be true or false", field="body.override_dnc")
    if override and req.require("admin", "supervisor", "agent").role == "agent":
        raise ApiError(403, "override_dnc: only a supervisor or admin may override the do-not-call list")
    return {"number": number, "override_dnc": override}


def register(router: Router, backend: AcdBackend, calls: CallControlBackend) -> None:
    """Add the call-control routes to ``router``."""

    @router.route("POST", rf"/api/agents/(?P<agent_id>[^/]+)/call/(?P<action>{AGENT_ACTIONS})", body=CallBody)
    def agent_call(req: Request, agent_id: str, action: str) -> Any:
        req.require("admin", "supervisor", agent=agent_id)
        args = _dial_args(req) if action == "dial" else _strings(req, "target")
        return calls.act(_actor(req), agent_id, action, **args)

    @router.route("POST", rf"/api/supervise/(?P<agent_id>[^/]+)/(?P<action>{SUPERVISOR_ACTIONS})", body=SuperviseBody)
    def supervise(req: Request, agent_id: str, action: str) -> Any:
        req.require("admin", "supervisor")
        return calls.act(_actor(req), agent_id, action, **_strings(req, "contact", "reason"))

    @router.route("GET", r"/api/calls/(?P<call_id>[^/]+)")
    def call_record(req: Request, call_id: str) -> Any:
        """A finished call's CDR with its segments: every agent (or outside number) who had it, in order."""
        req.require("admin", "supervisor")
        return backend.call_record(call_id)

    @router.route("GET", r"/api/calls/(?P<call_id>[^/]+)/recordings")
    def call_recordings(req: Request, call_id: str) -> Any:
        req.require("admin", "supervisor")
        return backend.call_recordings(call_id)

    @router.route("GET", r"/api/calls/(?P<call_id>[^/]+)/recordings/(?P<recording_id>\d+)/audio", produces="audio/wav")
    def recording_audio(req: Request, call_id: str, recording_id: str) -> Raw:
        """One recording as WAV: 404 when unknown or not on disk, 410 when retention deleted it."""
        req.require("admin", "supervisor")
        with errors():
            path = Path(backend.recording_file(call_id, int(recording_id)))
        if not path.is_file():
            raise ApiError(404, f"recording {recording_id}: no file at {path} (still being recorded, or removed)")
        data = path.read_bytes()
        return Raw("200 OK", [("Content-Type", "audio/wav"), ("Content-Length", str(len(data)))], [data])

    @router.route("POST", "/api/recording-rules", body=RuleBody)
    def add_rule(req: Request) -> Any:
        """Record an agent's calls during a window: {"agent", "from", "until", "note"}."""
        req.require("admin", "supervisor")
        fields = _strings(req, "agent", "from", "until", "note")
        for name in ("agent", "from", "until"):
            if not fields[name]:
                raise ApiError(400, f"{name} is required")
        return backend.add_recording_rule(
            _actor(req), str(fields["agent"]), str(fields["from"]), str(fields["until"]), fields["note"] or ""
        )

    @router.route("GET", "/api/recording-rules", query=AgentQuery)
    def list_rules(req: Request) -> Any:
        req.require("admin", "supervisor")
        return backend.recording_rules(req.params.agent)

    @router.route("DELETE", r"/api/recording-rules/(?P<rule_id>\d+)")
    def remove_rule(req: Request, rule_id: str) -> Any:
        req.require("admin", "supervisor")
        return backend.remove_recording_rule(int(rule_id))

    @router.route("GET", "/api/call-control-log", query=LogQuery)
    def audit_log(req: Request) -> Any:
        req.require("admin", "supervisor")
        return calls.log(req.params.agent, req.params.limit)

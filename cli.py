"""hotline's operator command line (installed as ``hotline``).

Database commands (agents, skills, queues, db) work whether or not the engine runs; commands that
change live state (agent login/ready/break, queue status, flow reload) talk to the running
engine's HTTP API with an admin token (``--token`` or ``HOTLINE_TOKEN``).
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()  # before anything imports socket, ssl or threading: the engine is one gevent process

import argparse
import csv
import json
import math
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

from engine.config import Config, ConfigError, check_flows, load_config
from engine.ivr.errors import FlowValidationError
from engine.transport.connection import ESLError


class CliError(Exception):
    """A user-facing failure: printed as one line without a traceback, exit status 1."""


class UsageError(CliError):
    """The command line itself is incomplete or wrong (like argparse's own errors): exit status 2."""


def _number(kind: type, *, minimum: float | None = 0, above: bool = False, maximum: float | None = None):
    """An argparse type: a finite ``kind`` (int or float) within bounds; argparse reports the option and value."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if minimum is not None and (value <= minimum if above else value < minimum):
            raise argparse.ArgumentTypeError(f"{text!r} must be {'above' if above else 'at least'} {minimum}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"{text!r} must be at most {maximum}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


SECONDS = _number(float)
POSITIVE = _number(float, above=True)
COUNT = _number(int)
POSITIVE_COUNT = _number(int, minimum=1)
PERCENT = _number(float, maximum=100)
SHARE = _number(float, above=True, maximum=1)


def _region(text: str) -> str:
    """An argparse type: a region phonenumbers knows (ISO 3166 alpha-2, e.g. GB)."""
    import phonenumbers

    if text.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a known region: an ISO 3166 code such as GB or CN")
    return text.upper()


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def _config(args: argparse.Namespace) -> Config:
    return load_config(Path(args.config) if args.config else None)


def _session(args: argparse.Namespace):
    from engine.store.db import make_engine, session_factory
    from engine.store.migrate import upgrade

    config = _config(args)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(config.db_url())
    return session_factory(make_engine(config.db_url())).begin()


def _api(args: argparse.Namespace, method: str, path: str, body: dict | None = None) -> Any:
    return json.loads(_api_bytes(args, method, path, body))


def _api_bytes(args: argparse.Namespace, method: str, path: str, body: dict | None = None) -> bytes:
    """The running engine's answer to one API request, as bytes; CliError naming the refusal."""
    config = _config(args)
    token = args.token or os.environ.get("HOTLINE_TOKEN", "")
    url = f"http://{config.http.host}:{config.http.port}{path}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Authorization": f"Bearer {token}"})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        raise CliError(f"{method} {path}: {exc.code} {json.loads(exc.read() or b'{}').get('error', '')}") from None
    except OSError as exc:
        raise CliError(f"the engine is not reachable at {url} ({exc}); is `hotline run` running?") from None


def _levels(pairs: Sequence[str], what: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for pair in pairs:
        name, _, level = pair.partition("=")
        try:
            out[name] = int(level or 1)
        except ValueError:
            raise UsageError(f"--{what} {pair!r}: expected NAME or NAME=LEVEL (level 1-10)") from None
    return out


def _ensure_skills(session, names) -> None:
    """Create the skills among ``names`` that the catalogue does not have yet."""
    from engine.store import skills as skill_store

    known = {k.name for k in skill_store.list_skills(session)}
    for name in set(names) - known:
        skill_store.create_skill(session, name)


# ---- commands ------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    from engine.runtime.hotline import Hotline
    from engine.runtime.logs import setup_logging

    config = _config(args)
    setup_logging(config.log_level)
    engine = Hotline(config)
    engine.start(wait_for_freeswitch=args.wait)
    engine.serve_forever()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from engine.demo.run import DemoOptions, run_demo

    options = DemoOptions(
        calls=args.calls, agents=args.agents, rate=args.rate, seed=args.seed, speed=args.speed, data_dir=args.data_dir
    )
    return run_demo(options)


def cmd_db(args: argparse.Namespace) -> int:
    from engine.store.migrate import current, upgrade

    config = _config(args)
    if args.action == "upgrade":
        config.data_dir.mkdir(parents=True, exist_ok=True)
        upgrade(config.db_url())
    print(f"schema revision: {current(config.db_url())}")
    return 0


def cmd_agent(args: argparse.Namespace) -> int:
    from engine.store import agents

    if args.action in ("login", "logout", "ready", "break", "end_wrap_up"):
        body = {"reason": args.reason} if args.reason else {}
        result = _api(args, "POST", f"/api/agents/{args.id}/{args.action}", body)
        print(f"agent {result['agent']}: {result['state']}")
        return 0
    if args.action == "status":
        print(_table(_api(args, "GET", "/api/agents"), ["id", "state", "reason", "calls", "skills"]))
        return 0
    with _session(args) as s:
        if args.action == "add":
            skills = _levels(args.skill, "skill")

            _ensure_skills(s, skills)
            agents.create_agent(
                s, args.id, name=args.name or args.id, contact=args.contact or f"user/{args.id}", skills=skills
            )
            print(f"agent {args.id} added")
        elif args.action == "remove":
            agents.remove_agent(s, args.id)
            print(f"agent {args.id} removed")
        else:
            rows = [
                {
                    "id": a.id,
                    "name": a.name,
                    "contact": a.contact,
                    "skills": ",".join(f"{k.skill.name}={k.level}" for k in a.skills),
                }
                for a in agents.list_agents(s)
            ]
            print(_table(rows, ["id", "name", "contact", "skills"]))
    return 0


QUEUE_SETTING_FLAGS = {
    "ring_timeout": "ring_timeout_seconds",
    "no_answer_delay": "no_answer_delay_seconds",
    "busy_delay": "busy_delay_seconds",
    "reject_delay": "reject_delay_seconds",
    "failed_delay": "failed_delay_seconds",
    "max_no_answer": "max_no_answer",
    "skill_weight": "skill_weight_seconds",
    "resume_within": "resume_seconds",
    "announce_every": "announce_seconds",
    "record_percent": "record_percent",
    "exit_target": "exit_target",
    "escalation": "escalation",
    "exit_keys": "exit_keys",
    "callback_attempts": "callback_attempts",
    "callback_retry": "callback_retry_seconds",
    "callback_ring": "callback_ring_seconds",
}


def _queue_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The ACD settings given on the command line (``--escalation`` is a JSON list of steps)."""
    out = {setting: getattr(args, flag) for flag, setting in QUEUE_SETTING_FLAGS.items()}
    out = {k: v for k, v in out.items() if v is not None}
    examples = {"escalation": '[{"after_seconds": 30, "min_level": 3}]', "exit_keys": '{"1": "callback"}'}
    for name, example in examples.items():
        if name in out:
            try:
                out[name] = json.loads(out[name])
            except json.JSONDecodeError as exc:
                raise UsageError(f"--{name.replace('_', '-')}: not JSON ({exc}); e.g. '{example}'") from None
    return out


def cmd_queue(args: argparse.Namespace) -> int:
    from engine.store import queue_settings, queues

    if args.action == "status":
        rows = _api(args, "GET", "/api/queues")
        print(_table(rows, ["queue", "waiting", "offering", "talking", "longest_wait", "agents"]))
        return 0
    with _session(args) as s:
        if args.action in ("add", "update"):
            required = _levels(args.skill, "skill") if args.skill else None
            _ensure_skills(s, required or {})
            if args.action == "add":
                queues.create_queue(
                    s,
                    args.name,
                    strategy=args.strategy or queues.DEFAULT_STRATEGY,
                    wrap_up_seconds=10 if args.wrap_up is None else args.wrap_up,
                    max_wait_seconds=args.max_wait or queues.DEFAULT_MAX_WAIT_SECONDS,
                    required_skills=required,
                )
            else:
                queues.update_queue(
                    s,
                    args.name,
                    strategy=args.strategy,
                    wrap_up_seconds=args.wrap_up,
                    max_wait_seconds=args.max_wait,
                    required_skills=required,
                )
            settings = queue_settings.set_settings(s, args.name, **_queue_settings(args))
            print(f"queue {args.name} {'added' if args.action == 'add' else 'updated'}")
            print(json.dumps(settings, sort_keys=True))
            print("a running engine applies it on `hotline flows reload`")
        elif args.action == "show":
            queue = queues.get_queue(s, args.name)
            settings = {
                "strategy": queue.strategy,
                "wrap_up_seconds": queue.wrap_up_seconds,
                "max_wait_seconds": queue.max_wait_seconds,
                "required_skills": queue.skill_levels,
                **queue_settings.get_settings(s, args.name),
            }
            print("\n".join(f"{k}: {json.dumps(v)}" for k, v in settings.items()))
        elif args.action == "remove":
            queues.remove_queue(s, args.name)
            print(f"queue {args.name} removed")
        else:
            rows = [
                {
                    "name": q.name,
                    "strategy": q.strategy,
                    "wrap_up": q.wrap_up_seconds,
                    "max_wait": q.max_wait_seconds,
                    "skills": ",".join(f"{k}>={v}" for k, v in q.skill_levels.items()),
                }
                for q in queues.list_queues(s)
            ]
            print(_table(rows, ["name", "strategy", "wrap_up", "max_wait", "skills"]))
    return 0


# POST /api/agents/<id>/call/<action> with {"target"}; dial has its own body
AGENT_CALL_ACTIONS = (
    "hold", "unhold", "hangup", "transfer", "record", "consult", "complete", "conference", "leave", "cancel",
)  # fmt: skip


SEGMENT_COLUMNS = ["seq", "agent", "number", "queue", "how", "started_at", "ended_at", "talk_seconds"]
SEGMENT_COLUMNS += ["hold_seconds", "ended_by"]


def cmd_call(args: argparse.Namespace) -> int:
    """An agent's call (hold, unhold, hangup, transfer, dial, consult/complete, conference/leave, cancel)
    or a supervisor action, through the engine; a finished call's CDR and segments (show)."""
    if args.action == "log":
        query = f"?agent={args.agent}" if args.agent else ""
        rows = _api(args, "GET", f"/api/call-control-log{query}")
        print(_table(rows, ["at", "actor", "action", "agent", "call", "detail", "result"]))
        return 0
    if not args.agent:
        raise UsageError(f"hotline call {args.action}: which agent (for show and recordings: which call)?")
    if args.action == "recordings":
        rows = _api(args, "GET", f"/api/calls/{args.agent}/recordings")
        print(_table(rows, ["started_at", "reason", "agent", "queue", "path"]))
        return 0
    if args.action == "show":
        call = _api(args, "GET", f"/api/calls/{args.agent}")
        print(" ".join(f"{k}={call[k]}" for k in ("uuid", "outcome", "queue", "agent", "talk_seconds", "hold_seconds")))
        print(_table(call["segments"], SEGMENT_COLUMNS))
        return 0
    if args.action == "dial":
        if not args.number:
            raise UsageError("hotline call dial: which number? (--number N)")
        path, body = f"/api/agents/{args.agent}/call/dial", {"number": args.number}
        if args.override_dnc:
            body["override_dnc"] = True
    elif args.action in AGENT_CALL_ACTIONS:
        path, body = f"/api/agents/{args.agent}/call/{args.action}", {"target": args.to}
    else:
        path, body = f"/api/supervise/{args.agent}/{args.action}", {"contact": args.contact, "reason": args.reason}
    result = _api(args, "POST", path, {k: v for k, v in body.items() if v is not None})
    print(" ".join(f"{k}={v}" for k, v in result.items()))
    return 0


def cmd_recording(args: argparse.Namespace) -> int:
    """Recording rules ("record these agents during this time window"), through the engine."""
    if args.action == "add":
        if not (args.target and args.start and args.until):
            raise UsageError("hotline recording add AGENT --from TIME --until TIME")
        body = {"agent": args.target, "from": args.start, "until": args.until, "note": args.note or ""}
        rule = _api(args, "POST", "/api/recording-rules", body)
        print(f"rule {rule['id']}: agent {rule['agent']} recorded from {rule['from']} until {rule['until']}")
    elif args.action == "remove":
        if not (args.target or "").isdigit():
            raise UsageError("hotline recording remove RULE_ID")
        _api(args, "DELETE", f"/api/recording-rules/{args.target}")
        print(f"rule {args.target} removed")
    else:
        query = f"?agent={args.target}" if args.target else ""
        print(_table(_api(args, "GET", f"/api/recording-rules{query}"), ["id", "agent", "from", "until", "by", "note"]))
    return 0


def cmd_recordings(args: argparse.Namespace) -> int:
    """Retention: delete the recorded files past their period (``retention`` in the config), here and now."""
    from engine.runtime.retention import policy_of, purge
    from engine.store.db import make_engine, session_factory
    from engine.store.migrate import upgrade

    config = _config(args)
    upgrade(config.db_url())
    sessions = session_factory(make_engine(config.db_url()))
    policy = policy_of(config.retention)
    report = purge(sessions, config.data_dir, policy, datetime.now(UTC), dry_run=args.dry_run)
    verb = "would_delete" if args.dry_run else "deleted"
    rows = [
        {"kind": kind, verb: t.files, "bytes": t.bytes, "already_gone": t.missing, "refused": t.refused}
        for kind, t in report.kinds.items()
    ]
    print(_table(rows, ["kind", verb, "bytes", "already_gone", "refused"]))
    if policy.keeps_everything():
        print("retention: no period is set, so every recording is kept (docs/configuration.md, retention)")
    return 0


def cmd_callback(args: argparse.Namespace) -> int:
    """Keep-your-place callbacks (docs/acd.md), through the engine: list them, cancel one."""
    if args.action == "cancel":
        if not (args.target or "").isdigit():
            raise UsageError("hotline callback cancel CALLBACK_ID")
        done = _api(args, "POST", f"/api/callbacks/{args.target}/cancel")
        print(f"callback {done['id']} to {done['number']} cancelled")
        return 0
    query = "&".join(q for q in (f"queue={args.target}" if args.target else "", "all=1" if args.all else "") if q)
    rows = _api(args, "GET", f"/api/callbacks{'?' + query if query else ''}")
    columns = ["id", "queue", "number", "status", "attempts", "requested_at", "retry_at", "agent", "ticket"]
    print(_table(rows, columns))
    return 0


def _when(text: str | None, default: datetime) -> datetime:
    if not text:
        return default
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{text!r}: expected an ISO date or time, e.g. 2026-11-23 or 2026-11-23T08:00") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _print_rows(rows: list[dict[str, Any]], columns: list[str], as_csv: bool) -> None:
    if as_csv:
        writer = csv.DictWriter(sys.stdout, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    else:
        print(_table(rows, columns))


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def cmd_report(args: argparse.Namespace) -> int:
    """Queue service level by interval (with Erlang C staffing) or agent performance, from the database."""
    from engine.acd.reports import agent_performance, queue_intervals
    from engine.store import acd_reports

    now = datetime.now(UTC)
    since = _when(args.since, now.replace(hour=0, minute=0, second=0, microsecond=0))
    until = _when(args.until, now)
    with _session(args) as s:
        if args.kind == "queues":
            facts = acd_reports.queued_calls(s, since, until)
            rows = [
                {
                    **{k: getattr(r, k) for k in ("queue", "offered", "answered", "abandoned", "agents_needed")},
                    "start": r.start.isoformat(timespec="minutes"),
                    "answered_in_sl": r.answered_in_sl,
                    "short_abandons": r.abandoned_in_sl,
                    "sl": _ratio(r.service_level),
                    "sl2": _ratio(r.service_level_sl2),
                    **{k: _ratio(getattr(r, k)) for k in ("asa", "talk", "hold", "wrap", "aht")},
                }
                for r in queue_intervals(
                    facts, interval=timedelta(minutes=args.interval), sl_seconds=args.sl, target_sl=args.target
                )
            ]
            columns = ["queue", "start", "offered", "answered", "answered_in_sl", "abandoned", "short_abandons"]
            columns += ["sl", "sl2", "asa", "talk", "hold", "wrap", "aht", "agents_needed"]
            _print_rows(rows, columns, args.csv)
            return 0
        rows = []
        for agent in acd_reports.agent_ids(s, since, until):
            p = agent_performance(
                agent,
                acd_reports.agent_states(s, agent, since, until),
                acd_reports.agent_calls(s, agent, since, until),
                until=until,
            )
            rows.append(
                {
                    "agent": agent,
                    "calls": p.calls,
                    "talk": round(p.talk_seconds),
                    "hold": round(p.hold_seconds),
                    "holds": p.holds,
                    "wrap": round(p.wrap_seconds),
                    "aht": _ratio(p.aht),
                    **{state: round(p.seconds_in.get(state, 0)) for state in ("ready", "on_call", "break")},
                    "occupancy": _ratio(p.occupancy),
                    "offers": p.offers,
                    "not_answered": p.offers_not_answered,
                    "breaks": ",".join(
                        f"{k}={v}/{round(p.break_seconds.get(k, 0))}s" for k, v in sorted(p.breaks.items())
                    ),
                }
            )
        columns = ["agent", "calls", "talk", "hold", "holds", "wrap", "aht", "ready", "on_call", "break"]
        _print_rows(rows, [*columns, "occupancy", "offers", "not_answered", "breaks"], args.csv)
    return 0


def cmd_flows(args: argparse.Namespace) -> int:
    from engine.ivr.dryrun import dry_run, run_flow_tests
    from engine.ivr.loader import load_flows

    if args.action == "reload":
        print(f"loaded: {', '.join(_api(args, 'POST', '/api/reload')['flows'])}")
        return 0
    config = _config(args)
    path = Path(args.path) if getattr(args, "path", None) else config.flows_dir
    try:
        flows = load_flows(path, sounds_dir=config.sounds_dir)
    except FlowValidationError as exc:
        print(exc, file=sys.stderr)
        print(f"{len(exc.errors)} problem(s); nothing was loaded", file=sys.stderr)
        return 1
    if path == config.flows_dir:
        check_flows(config, flows)  # as the engine's start does: calls.numbers name flows that exist
    if args.action == "validate":
        failed = 0
        for flow in flows.values():
            results = run_flow_tests(flow)
            failed += sum(not r.passed for r in results)
            for r in results:
                if not r.passed:
                    print(f"FAIL {flow.name}: {r.name}: {'; '.join(r.failures)}")
            print(f"ok   {flow.name} ({len(results)} test case(s))")
        return 1 if failed else 0
    if args.flow not in flows:
        raise CliError(f"no flow named {args.flow!r} in {path} (have: {', '.join(sorted(flows))})")
    inputs = [i.strip() for i in args.input.split(",")] if args.input else []
    print(dry_run(flows[args.flow], caller=args.caller, inputs=inputs).render())
    return 0


# ---- CRM users ---------------------------------------------------------------------------


def cmd_user(args: argparse.Namespace) -> int:
    """Add or list the CRM's login users (the password comes from HOTLINE_PASSWORD or a prompt)."""
    import getpass

    from sqlalchemy import select

    from engine.store import users
    from engine.store.crm_models import User

    with _session(args) as s:
        if args.action == "list":
            rows = [{"username": u.username, "role": u.role, "agent": u.agent_id or "", "team": u.team or ""}
                    for u in s.scalars(select(User).order_by(User.username))]  # fmt: skip
            print(_table(rows, ["username", "role", "agent", "team"]))
            return 0
        password = os.environ.get("HOTLINE_PASSWORD")
        if not password:
            if not sys.stdin.isatty():
                raise UsageError(f"user add {args.username}: no terminal to ask for the password; set HOTLINE_PASSWORD")
            password = getpass.getpass(f"password for {args.username}: ")
        users.create_user(s, "cli", args.username, password, args.role, agent_id=args.agent, team=args.team)
        print(f"user {args.username} added ({args.role})")
    return 0


# ---- parser --------------------------------------------------------------------------------


# ---- outbound campaigns and do-not-call --------------------------------------------------------


def _compliance_file(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    from engine.config import yamlsafe

    try:
        data = yamlsafe.load_file(path) or {}
    except yamlsafe.YamlRefused as exc:
        raise CliError(str(exc)) from None
    if not isinstance(data, dict):
        raise CliError(f"{path}: line 1: compliance settings must be a mapping")
    return data


def cmd_campaign(args: argparse.Namespace) -> int:
    from engine.store import outbound
    from engine.store.errors import Conflict

    if args.action in ("start", "pause", "finish"):
        result = _api(args, "POST", f"/api/campaigns/{args.name}/{args.action}")
        print(f"campaign {result['campaign']}: {result['state']}")
        return 0
    if args.action == "status":
        print(json.dumps(_api(args, "GET", f"/api/campaigns/{args.name}"), indent=2, default=str))
        return 0
    if args.action == "amd-audit":
        return cmd_amd_audit(args)
    with _session(args) as s:
        if args.action == "create":
            params = {"ratio": args.ratio} if args.ratio else {}
            if any(c.name == args.name for c in outbound.list_campaigns(s)):
                raise CliError(str(Conflict("campaign", args.name, "already exists")))
            outbound.create_campaign(
                s, args.name, caller_id=args.caller_id, queue=args.queue, region=args.region, gateway=args.gateway,
                dial_mode=args.mode, dial_params=params, compliance=_compliance_file(args.compliance),
                amd_rule=args.amd_rule,
            )  # fmt: skip
            print(f"campaign {args.name} created (draft)")
        elif args.action == "import":
            if not args.file:
                raise UsageError("campaign import: give the CSV file")
            campaign = outbound.get_campaign(s, args.name)
            report = outbound.import_contacts_csv(s, campaign, args.file, args.default_tz)
            for issue in report["rejected"]:
                print(f"{args.file}: line {issue['line']}: field {issue['field']!r}: {issue['reason']}")
            for issue in report["merged"]:
                print(f"{args.file}: line {issue['line']}: merged: {issue['reason']}")
            print(
                f"{report['summary']}; {report['imported']} added, {len(report['already_in_campaign'])} already there"
            )
        elif args.action == "report":
            print(json.dumps(outbound.report(s, outbound.get_campaign(s, args.name)), indent=2))
        else:
            rows = [
                {"name": c.name, "state": c.state, "mode": c.dial_mode, "queue": c.queue}
                for c in outbound.list_campaigns(s)
            ]
            print(_table(rows, ["name", "state", "mode", "queue"]))
    return 0


def cmd_amd_audit(args: argparse.Namespace) -> int:
    """``campaign amd-audit list|label|audio CAMPAIGN ...`` through the running engine's API."""
    action, name, rest = args.name, args.file, args.rest
    usage = "campaign amd-audit: use list CAMPAIGN [--all] | label CAMPAIGN ID human|machine | audio CAMPAIGN ID FILE"
    wanted = {"list": 0, "label": 2, "audio": 2}
    if action not in wanted or not name or len(rest) != wanted[action] or (rest and not rest[0].isdigit()):
        raise UsageError(usage)
    base = f"/api/campaigns/{name}/amd-samples"
    if action == "list":
        listing = _api(args, "GET", base if args.all else f"{base}?unlabelled=1")
        rows = [
            {k: str(sample[k] or "-") for k in ("id", "created_at", "amd_result", "source", "label", "labelled_by")}
            for sample in listing["samples"]
        ]
        print(_table(rows, ["id", "created_at", "amd_result", "source", "label", "labelled_by"]))
        print(f"false negatives (agents' answering-machine dispositions): {listing['false_negatives']}")
    elif action == "label":
        result = _api(args, "POST", f"{base}/{rest[0]}/label", {"label": rest[1]})
        print(f"sample {result['id']}: {result['label']} (by {result['labelled_by']})")
        if "estimate" in result:
            print(f"false-positive bound now {result['estimate']['upper']:.2%}: {result['estimate']['note']}")
    else:
        data = _api_bytes(args, "GET", f"{base}/{rest[0]}/audio")
        Path(rest[1]).write_bytes(data)
        print(f"sample {rest[0]}: {len(data)} bytes written to {rest[1]}")
    return 0


def cmd_dnc(args: argparse.Namespace) -> int:
    from engine.dialler.compliance import load_dnc, parse_dnc
    from engine.store import outbound

    with _session(args) as s:
        if args.action == "add":
            added = outbound.add_dnc(s, parse_dnc(args.items, args.region, "command line"), args.source)
            print(f"{added} number(s) added to the {args.source} list")
        elif args.action == "import":
            numbers = frozenset().union(*(load_dnc(path, args.region) for path in args.items))
            added = outbound.add_dnc(s, numbers, args.source)
            print(f"{len(numbers)} number(s) read, {added} new on the {args.source} list")
        else:
            numbers = parse_dnc(args.items, args.region, "command line")
            listed = outbound.dnc_sources(s, numbers)
            for number in sorted(numbers):
                print(f"{number}: {'on the ' + listed[number] + ' list' if number in listed else 'not listed'}")
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (the usage is one ``-h`` away); exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} -h)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="hotline", description=__doc__.split("\n")[0])
    p.add_argument("--config", help="hotline YAML config (default: built-in defaults)")
    p.add_argument("--token", help="API token for commands that talk to the running engine")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the engine against FreeSWITCH")
    run.add_argument(
        "--wait", type=SECONDS, default=None, help="seconds to wait for FreeSWITCH at start (default: retry)"
    )
    run.set_defaults(fn=cmd_run)

    demo = sub.add_parser("demo", help="the engine on the built-in FreeSWITCH emulator with synthetic traffic")
    demo.add_argument("--calls", type=COUNT, default=40, help="stop after this many calls (0 = until Ctrl-C)")
    demo.add_argument("--agents", type=POSITIVE_COUNT, default=6)
    demo.add_argument("--rate", type=POSITIVE, default=0.3, help="new calls per (simulated) minute per agent")
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--speed", type=POSITIVE, default=20.0, help="simulated seconds per real second")
    demo.add_argument("--data-dir", default=None, help="where the demo database goes (default: a temp dir)")
    demo.set_defaults(fn=cmd_demo)

    db = sub.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade", "current"])
    db.set_defaults(fn=cmd_db)

    agent = sub.add_parser("agent", help="agents: add/list/remove, and live state")
    agent.add_argument(
        "action", choices=["add", "list", "remove", "status", "login", "logout", "ready", "break", "end_wrap_up"]
    )
    agent.add_argument("id", nargs="?")
    agent.add_argument("--name")
    agent.add_argument("--contact", help="dial string (default user/<id>)")
    agent.add_argument("--skill", action="append", default=[], help="SKILL=LEVEL (1-10), repeatable")
    agent.add_argument("--reason", help="break reason code")
    agent.set_defaults(fn=cmd_agent)

    queue = sub.add_parser("queue", help="queues: add/update/show/list/remove, and live status (docs/acd.md)")
    queue.add_argument("action", choices=["add", "update", "show", "list", "remove", "status"])
    queue.add_argument("name", nargs="?")
    queue.add_argument("--skill", action="append", default=[], help="required SKILL=MIN_LEVEL, repeatable")
    queue.add_argument("--strategy", help="routing strategy (default longest_idle)")
    queue.add_argument("--wrap-up", type=COUNT, help="wrap-up seconds (default 10)")
    queue.add_argument("--max-wait", type=POSITIVE_COUNT, help="seconds before a waiting call leaves (default 300)")
    queue.add_argument("--ring-timeout", type=POSITIVE, help="seconds an offer rings (default 20)")
    queue.add_argument("--no-answer-delay", type=SECONDS, help="agent held out after a no-answer (default 10)")
    queue.add_argument("--busy-delay", type=SECONDS, help="... after a busy phone (default 30)")
    queue.add_argument("--reject-delay", type=SECONDS, help="... after a rejection (default 10)")
    queue.add_argument("--failed-delay", type=SECONDS, help="... after a failed leg (default 30)")
    queue.add_argument("--max-no-answer", type=COUNT, help="consecutive no-answers before break (default 3; 0 never)")
    queue.add_argument("--skill-weight", type=SECONDS, help="skill_weighted: idle seconds per level (default 60)")
    queue.add_argument(
        "--resume-within", type=SECONDS, help="seconds an abandoning caller keeps their place (default 0: off)"
    )
    queue.add_argument("--announce-every", type=SECONDS, help="seconds between position announcements (default 0: off)")
    queue.add_argument("--record-percent", type=PERCENT, help="record this share of answered calls, 0-100 (default 0)")
    queue.add_argument("--exit-keys", help='JSON: key -> exit target while waiting, e.g. \'{"1": "callback"}\'')
    queue.add_argument("--exit-target", help="voicemail (default), callback, flow:NAME or queue:NAME")
    queue.add_argument("--escalation", help='JSON list, e.g. \'[{"after_seconds": 30, "min_level": 3}]\'')
    queue.add_argument(
        "--callback-attempts", type=POSITIVE_COUNT, help="dials to a callback customer before a ticket (default 3)"
    )
    queue.add_argument("--callback-retry", type=POSITIVE, help="seconds between callback dials (default 300)")
    queue.add_argument("--callback-ring", type=POSITIVE, help="seconds a callback customer's phone rings (default 30)")
    queue.set_defaults(fn=cmd_queue)

    call = sub.add_parser("call", help="call control and supervision of an agent's call; the audit log")
    call.add_argument(
        "action",
        choices=[
            "hold", "unhold", "hangup", "transfer", "record", "recordings", "show", "dial",
            "consult", "complete", "conference", "leave", "cancel",
            "listen", "whisper", "barge", "force_break", "force_logout", "log",
        ],
    )  # fmt: skip
    call.add_argument("agent", nargs="?", help="the agent (for log: only theirs; for show, recordings: the call uuid)")
    call.add_argument(
        "--to",
        help="transfer: queue:NAME, flow:NAME, agent:ID or number:N; "
        "consult/conference: agent:ID, queue:NAME or number:N",
    )
    call.add_argument("--number", help="dial: the number the agent calls")
    call.add_argument("--override-dnc", action="store_true", help="dial: call a do-not-call number (supervisor/admin)")
    call.add_argument("--contact", help="listen/whisper/barge: the supervisor's phone, e.g. user/1009")
    call.add_argument("--reason", help="force_break reason code")
    call.set_defaults(fn=cmd_call)

    recording = sub.add_parser("recording", help="recording rules: record an agent's calls during a time window")
    recording.add_argument("action", choices=["add", "list", "remove"])
    recording.add_argument("target", nargs="?", help="add/list: the agent; remove: the rule id")
    recording.add_argument("--from", dest="start", help="ISO time; without an offset, in calls.timezone")
    recording.add_argument("--until", help="ISO time; without an offset, in calls.timezone")
    recording.add_argument("--note", help="why (shown in the rule list)")
    recording.set_defaults(fn=cmd_recording)

    recordings = sub.add_parser("recordings", help="retention: delete recorded files past their retention period")
    recordings.add_argument("action", choices=["purge"])
    recordings.add_argument("--dry-run", action="store_true", help="only list what would be deleted")
    recordings.set_defaults(fn=cmd_recordings)

    callback = sub.add_parser("callback", help="keep-your-place callbacks: list, cancel (docs/acd.md)")
    callback.add_argument("action", choices=["list", "cancel"])
    callback.add_argument("target", nargs="?", help="list: only this queue's; cancel: the callback id")
    callback.add_argument("--all", action="store_true", help="list: also completed, failed and cancelled ones")
    callback.set_defaults(fn=cmd_callback)

    report = sub.add_parser("report", help="queue service level by interval (Erlang C staffing), agent performance")
    report.add_argument("kind", choices=["queues", "agents"])
    report.add_argument("--since", help="ISO date/time (default: today 00:00 UTC)")
    report.add_argument("--until", help="ISO date/time (default: now)")
    report.add_argument("--interval", type=POSITIVE_COUNT, default=30, help="queues: minutes per row (default 30)")
    report.add_argument("--sl", type=SECONDS, default=20, help="queues: service-level threshold seconds (default 20)")
    report.add_argument("--target", type=SHARE, default=0.8, help="queues: target service level for staffing")
    report.add_argument("--csv", action="store_true", help="CSV instead of a table")
    report.set_defaults(fn=cmd_report)

    flows = sub.add_parser("flows", help="IVR flows: validate, dry-run test, reload the running engine")
    flows_sub = flows.add_subparsers(dest="action", required=True)
    validate = flows_sub.add_parser("validate", help="validate flows and run their own test cases")
    validate.add_argument("path", nargs="?")
    test = flows_sub.add_parser("test", help="dry-run one flow with scripted input")
    test.add_argument("flow")
    test.add_argument("--caller", default="+8613900139000")
    test.add_argument("--input", default="", help='comma-separated answers, e.g. "1,2#,say:billing,noinput"')
    test.add_argument("--path", default=None)
    flows_sub.add_parser("reload", help="reload flows in the running engine (a bad flow is never loaded)")
    flows.set_defaults(fn=cmd_flows)

    user = sub.add_parser("user", help="CRM login users: add/list (passwords are scrypt-hashed)")
    user.add_argument("action", choices=["add", "list"])
    user.add_argument("username", nargs="?")
    user.add_argument("--role", choices=["admin", "supervisor", "agent"], default="agent")
    user.add_argument("--agent", help="the ACD agent id of an agent user")
    user.add_argument("--team", help="team whose tickets the user sees")
    user.set_defaults(fn=cmd_user)

    campaign = sub.add_parser("campaign", help="outbound campaigns: create, import contacts, start/pause, status")
    campaign.add_argument(
        "action", choices=["create", "list", "import", "start", "pause", "finish", "status", "report", "amd-audit"]
    )
    campaign.add_argument("name", nargs="?", help="the campaign (amd-audit: list|label|audio)")
    campaign.add_argument("file", nargs="?", help="contact CSV (import); the campaign (amd-audit)")
    campaign.add_argument("rest", nargs="*", help="amd-audit label: ID human|machine; amd-audit audio: ID FILE")
    campaign.add_argument("--all", action="store_true", help="amd-audit list: labelled samples too")
    campaign.add_argument("--caller-id", default="")
    campaign.add_argument("--queue", default="")
    campaign.add_argument("--mode", default="progressive", help="preview|progressive|fixed_ratio|predictive")
    campaign.add_argument("--ratio", type=POSITIVE, help="calls per free agent (fixed_ratio)")
    campaign.add_argument(
        "--region", type=_region, default="GB", help="default region for numbers without +country code"
    )
    campaign.add_argument("--gateway", default="sofia/gateway/trunk/")
    campaign.add_argument("--amd-rule", default="hang_up", help="hang_up|leave_message|retry")
    campaign.add_argument("--compliance", help="YAML/JSON file of compliance settings (docs/outbound.md)")
    campaign.add_argument("--default-tz", help="time zone for numbers whose zone is unknown (import)")
    campaign.set_defaults(fn=cmd_campaign)

    dnc = sub.add_parser("dnc", help="do-not-call list: add numbers, import a file, check numbers")
    dnc.add_argument("action", choices=["add", "import", "check"])
    dnc.add_argument("items", nargs="+", help="numbers (add, check) or files (import)")
    dnc.add_argument("--source", default="internal", help="list name: internal, or e.g. tps for an imported list")
    dnc.add_argument("--region", type=_region, default="GB")
    dnc.set_defaults(fn=cmd_dnc)
    return p


_NEEDS_ID: dict[str, Callable[[argparse.Namespace], bool]] = {
    "agent": lambda a: a.action not in ("list", "status") and not a.id,
    "queue": lambda a: a.action in ("add", "update", "show", "remove") and not a.name,
    "user": lambda a: a.action == "add" and not a.username,
    "campaign": lambda a: a.action != "list" and not a.name,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, dispatch, and turn every user error into one line on stderr: 2 for usage, 1 for failures."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse: -h (0) or its one-line usage error (2); callers get the status
        return exc.code if isinstance(exc.code, int) else 2
    if _NEEDS_ID.get(args.command, lambda _a: False)(args):
        print(f"hotline {args.command} {args.action}: which one? give its id/name", file=sys.stderr)
        return 2
    try:
        return args.fn(args)
    except KeyboardInterrupt:
        print("hotline: interrupted", file=sys.stderr)
        return 130
    except FlowValidationError as exc:
        print(f"hotline: flows failed validation; nothing was loaded:\n{exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        message = _user_error(exc)
        if message is None:
            raise
        print(f"hotline: {message}", file=sys.stderr)
        return 2 if isinstance(exc, UsageError) else 1


def _user_error(exc: Exception) -> str | None:
    """The one-line message for an error the user can fix (bad input, file, config, database); None for a bug."""
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    from engine.store.db import DatabaseUrlError
    from engine.store.errors import StoreError

    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}"
    if isinstance(exc, DBAPIError):  # parameters are hidden (store/db.py); the driver's first line says why
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
        return f"database error: {reason}"
    if isinstance(exc, SQLAlchemyError):
        return f"database: {str(exc).splitlines()[0]}"
    if isinstance(exc, CliError | ConfigError | ESLError | StoreError | DatabaseUrlError | LookupError | ValueError):
        return str(exc)  # the store's NotFound / InvalidInput / Conflict, ContactImportError... name the field
    if isinstance(exc, OSError):
        return str(exc)
    return None


if __name__ == "__main__":
    sys.exit(main())

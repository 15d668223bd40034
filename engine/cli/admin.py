"""Commands of flows, users and outbound campaigns (with their AMD audit and the do-not-call list)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from engine.cli.common import (
    CliError,
    UsageError,
    _api,
    _api_bytes,
    _config,
    _session,
    _table,
)
from engine.config import check_flows
from engine.ivr.errors import FlowValidationError


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
    when = _flow_time(args.time, config.calls.timezone)
    print(f"local time in the flow: {when:%Y-%m-%d %H:%M %A} ({config.calls.timezone})")
    print(dry_run(flows[args.flow], caller=args.caller, inputs=inputs, now=when).render())
    return 0


def _flow_time(text: str | None, zone: str) -> datetime:
    """``--time``: an ISO date and time (``2026-12-07T09:30``) in the calls' time zone; default now there,
    the time a call arriving now would see (opening hours included)."""
    tz = ZoneInfo(zone)
    if not text:
        return datetime.now(tz).replace(tzinfo=None, second=0, microsecond=0)
    try:
        return datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError:
        raise CliError(f"--time {text!r}: not a date and time such as 2026-12-07T09:30") from None


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

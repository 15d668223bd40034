"""Commands of the running contact centre: engine, database, agents, queues, calls, recordings, reports."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.cli.common import (
    UsageError,
    _api,
    _config,
    _ensure_skills,
    _levels,
    _print_rows,
    _ratio,
    _session,
    _table,
    _when,
)
from engine.cli.provision import import_export


def cmd_run(args: argparse.Namespace) -> int:
    """Serve until stopped. On PostgreSQL, first wait as the standby until this process leads its pair
    (engine/runtime/leadership.py); a leader that loses its lock stops taking calls at once and exits 75
    (EX_TEMPFAIL: its supervisor restarts it, as the standby)."""
    import os
    import signal

    import gevent
    import gevent.event

    from engine.runtime.hotline import Hotline
    from engine.runtime.leadership import Leadership
    from engine.runtime.logs import setup_logging

    config = _config(args)
    setup_logging(config.log_level)
    leadership = Leadership(config.db_url())
    stopping = gevent.event.Event()
    gevent.signal_handler(signal.SIGTERM, stopping.set)
    gevent.signal_handler(signal.SIGINT, stopping.set)
    engine = Hotline(config)  # built before waiting: a standby that takes over only has to start it
    leadership.metrics = engine.metrics
    if not leadership.acquire(stopping.is_set):
        return 0
    engine.metrics.leader.set(1)

    def lost(result: gevent.event.AsyncResult) -> None:
        engine.outbound.stop()  # no new call from now on: the dialplan tries the standby's socket
        os.kill(os.getpid(), signal.SIGTERM)  # then stop as on SIGTERM

    leadership.lost.rawlink(lost)
    engine.start(wait_for_freeswitch=args.wait)
    leadership.watch()
    engine.serve_forever()
    if leadership.lost.ready():
        return 75
    leadership.release()
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

    if args.action in ("import", "export"):
        return import_export(args, "agent", args.id)
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

    if args.action in ("import", "export"):
        return import_export(args, "queue", args.name)
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

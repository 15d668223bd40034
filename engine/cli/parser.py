"""The argument parser: every command, its options and its handler."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import NoReturn

from engine.cli import emulator as emulator_cli
from engine.cli.acd import (
    cmd_agent,
    cmd_call,
    cmd_callback,
    cmd_db,
    cmd_demo,
    cmd_queue,
    cmd_recording,
    cmd_recordings,
    cmd_report,
    cmd_run,
)
from engine.cli.admin import (
    cmd_campaign,
    cmd_dnc,
    cmd_flows,
    cmd_user,
)
from engine.cli.common import (
    COUNT,
    PERCENT,
    POSITIVE,
    POSITIVE_COUNT,
    SECONDS,
    SHARE,
    _region,
)
from engine.cli.provision import cmd_skill


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

    emulator_cli.add_parser(sub)

    db = sub.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade", "current"])
    db.set_defaults(fn=cmd_db)

    agent = sub.add_parser("agent", help="agents: add/list/remove, and live state")
    agent.add_argument(
        "action",
        choices=[
            "add", "list", "remove", "import", "export", "status", "login", "logout", "ready", "break", "end_wrap_up",
        ],
    )  # fmt: skip
    agent.add_argument("id", nargs="?", help="the agent; import/export: the .csv/.yaml file (docs/cli.md)")
    agent.add_argument("--name")
    agent.add_argument("--contact", help="dial string (default user/<id>)")
    agent.add_argument("--skill", action="append", default=[], help="SKILL=LEVEL (1-10), repeatable")
    agent.add_argument("--reason", help="break reason code")
    agent.set_defaults(fn=cmd_agent)

    queue = sub.add_parser("queue", help="queues: add/update/show/list/remove, and live status (docs/acd.md)")
    queue.add_argument("action", choices=["add", "update", "show", "list", "remove", "import", "export", "status"])
    queue.add_argument("name", nargs="?", help="the queue; import/export: the .csv/.yaml file (docs/cli.md)")
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

    skill = sub.add_parser("skill", help="the skill catalogue: add/list/remove, import/export a CSV or YAML file")
    skill.add_argument("action", choices=["add", "list", "remove", "import", "export"])
    skill.add_argument("name", nargs="?", help="the skill; import/export: the .csv/.yaml file (docs/cli.md)")
    skill.set_defaults(fn=cmd_skill)

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
    test.add_argument(
        "--time", default=None, help="local time the flow sees, e.g. 2026-12-07T09:30 (default: now, calls.timezone)"
    )
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
    "agent": lambda a: a.action not in ("list", "status", "import", "export") and not a.id,
    "queue": lambda a: a.action in ("add", "update", "show", "remove") and not a.name,
    "user": lambda a: a.action == "add" and not a.username,
    "campaign": lambda a: a.action != "list" and not a.name,
}

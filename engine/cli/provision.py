"""Bulk provisioning commands: ``agent|skill|queue import FILE`` and ``export FILE`` (CSV or YAML)."""

from __future__ import annotations

import argparse
import sys

from engine.cli.common import UsageError, _session, _table


def import_export(args: argparse.Namespace, kind: str, file: str | None) -> int:
    """``import``: check the whole file, then apply it in one transaction and print the per-row report;
    ``export``: write every stored record of ``kind`` to ``file``."""
    from engine.store import provisioning

    if not file:
        raise UsageError(f"hotline {kind} {args.action}: which file? give a .csv, .yaml or .yml path")
    with _session(args) as s:
        if args.action == "export":
            count = provisioning.export_file(s, kind, file)
            print(f"{file}: {count} {kind}(s) exported")
            return 0
        report = provisioning.import_file(s, kind, file)
    print("\n".join(report.lines()))
    note = _RUNNING_ENGINE.get((kind, bool(report.created), bool(report.updated)))
    if note:
        print(note, file=sys.stderr)
    return 0


_RELOAD = "`hotline flows reload` (or systemctl reload hotline)"
_RUNNING_ENGINE = {
    ("queue", True, False): f"a running engine takes the new queues on {_RELOAD}",
    ("queue", False, True): f"a running engine applies the queue changes on {_RELOAD}",
    ("queue", True, True): f"a running engine applies the new and changed queues on {_RELOAD}",
    ("agent", True, False): f"a running engine takes the new agents on {_RELOAD}",
    ("agent", False, True): "a running engine keeps the agents it has as they were until hotline restarts",
    ("agent", True, True): f"a running engine takes the new agents on {_RELOAD}; "
    "the changed ones when hotline restarts",
}
"""What a running engine does with an import (runtime/hotline.py ``reload``: queues are reconfigured,
agents it does not have are added, agents it has are not re-read)."""


def cmd_skill(args: argparse.Namespace) -> int:
    """The skill catalogue: add, list, remove, import, export."""
    from engine.store import skills

    if args.action in ("import", "export"):
        return import_export(args, "skill", args.name)
    if args.action != "list" and not args.name:
        raise UsageError(f"hotline skill {args.action}: which one? give its name")
    with _session(args) as s:
        if args.action == "add":
            skills.create_skill(s, args.name)
            print(f"skill {args.name} added")
        elif args.action == "remove":
            skills.remove_skill(s, args.name)
            print(f"skill {args.name} removed")
        else:
            print(_table([{"name": k.name} for k in skills.list_skills(s)], ["name"]))
    return 0

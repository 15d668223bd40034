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
    if report.created or report.updated:
        print("a running engine applies it on `hotline flows reload`", file=sys.stderr)
    return 0


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

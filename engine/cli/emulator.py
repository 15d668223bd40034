"""``hotline emulator``: the FreeSWITCH emulator as a process of its own (docs/operations.md)."""

from __future__ import annotations

import argparse

from engine.cli.common import CliError, UsageError


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The ``emulator`` subcommand and its options."""
    emu = sub.add_parser("emulator", help="run the FreeSWITCH emulator on its own (for what-if runs and fault tests)")
    emu.add_argument("--esl-port", type=int, default=8021, help="event socket port (default 8021; 0: any free one)")
    emu.add_argument("--host", default="127.0.0.1", help="event socket address (default 127.0.0.1)")
    emu.add_argument("--password", default="ClueCon", help="event socket password (default ClueCon)")
    emu.add_argument("--socket", default="127.0.0.1:8084", help="hotline's outbound socket HOST:PORT")
    emu.add_argument("--number", default="4000", help="the number handed to hotline's socket (default 4000)")
    emu.add_argument("--agents", action="append", default=[], help="agent extensions whose phones answer (1001,1002)")
    emu.set_defaults(fn=cmd_emulator)


def cmd_emulator(args: argparse.Namespace) -> int:
    from engine.emulator.process import EmulatorOptions, serve

    agents = tuple(ext.strip() for group in args.agents for ext in group.split(",") if ext.strip())
    try:
        options = EmulatorOptions(
            esl_port=args.esl_port, socket=args.socket, host=args.host, password=args.password,
            number=args.number, agents=agents,
        )  # fmt: skip
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    try:
        return serve(options, announce=lambda line: print(line, flush=True))
    except OSError as exc:  # the port is taken, or the address is not this host's
        raise CliError(f"emulator: cannot listen on {args.host}:{args.esl_port}: {exc.strerror or exc}") from None

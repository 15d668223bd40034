"""hotline's operator command line (installed as ``hotline``).

Database commands (agents, skills, queues, db) work whether or not the engine runs; commands that
change live state (agent login/ready/break, queue status, flow reload) talk to the running
engine's HTTP API with an admin token (``--token`` or ``HOTLINE_TOKEN``).
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()  # before anything imports socket, ssl or threading: the engine is one gevent process

import sys
from collections.abc import Sequence

from engine.cli.common import CliError, UsageError
from engine.cli.parser import _NEEDS_ID, build_parser
from engine.config import ConfigError
from engine.ivr.errors import FlowValidationError
from engine.transport.connection import ESLError


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

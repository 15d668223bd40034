"""What every command shares: errors, option types, tables, the database and the engine's API."""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.config import Config, load_config


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

"""Contact list CSV import: E.164 numbers, per-row rejection report, duplicate merge, time zone per contact."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as pn_timezone

UNKNOWN_ZONE = "Etc/Unknown"
FIELD_LIMIT = 64 * 1024  # characters in one CSV field; a longer one refuses the file, naming its line


class ContactImportError(ValueError):
    """The file cannot be imported at all (e.g. a required column is missing)."""


@dataclass(frozen=True)
class Contact:
    """One dialable contact. ``time_zones`` holds every zone the number may be in; all must allow a call."""

    number: str
    time_zones: tuple[str, ...]
    data: dict[str, str]
    line: int


@dataclass(frozen=True)
class RowIssue:
    """A rejected or merged row: where, which field and why."""

    line: int
    field: str
    reason: str


@dataclass
class ImportReport:
    """The outcome of one import: accepted contacts, rejected rows and rows merged into an earlier one."""

    source: str
    contacts: list[Contact] = field(default_factory=list)
    rejected: list[RowIssue] = field(default_factory=list)
    merged: list[RowIssue] = field(default_factory=list)

    def summary(self) -> str:
        """One line for an operator."""
        return (
            f"{self.source}: {len(self.contacts)} imported, {len(self.rejected)} rejected, "
            f"{len(self.merged)} duplicates merged"
        )


def normalise_number(raw: str, region: str) -> str:
    """``raw`` in E.164, parsed with ``region`` as the default; ValueError with the reason when invalid."""
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"unparseable number {raw!r}: {exc._msg}") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"invalid number {raw!r} for region {region}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def zones_for_number(number: str) -> tuple[str, ...]:
    """Time zones phonenumbers associates with an E.164 number (empty when unknown)."""
    zones = pn_timezone.time_zones_for_number(phonenumbers.parse(number, None))
    return tuple(z for z in zones if z != UNKNOWN_ZONE)


def _valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def import_contacts(
    source: Path | str | Iterable[str],
    default_region: str,
    *,
    number_column: str = "phone",
    tz_column: str = "timezone",
    default_tz: str | None = None,
) -> ImportReport:
    """Import a contact CSV (header row required). ``source`` is a path or an iterable of CSV text lines.

    Numbers are normalised to E.164 with ``default_region``; the time zone comes from ``tz_column`` when
    present and non-empty, else from the number, else ``default_tz``; a row with none is rejected. Every
    other column is kept in ``Contact.data``. A duplicate number is merged into its first row (the first
    row's values win; empty fields are filled from the duplicate).

    A file that cannot be read as CSV (not UTF-8, a quote left open, a field over ``FIELD_LIMIT``
    characters) raises ContactImportError naming the file and the line where the bad row starts:
    nothing from it is imported.
    """
    if isinstance(source, Path | str):
        name = str(source)
        with open(source, "rb") as fh:
            return _import(_decoded(fh, name), name, default_region, number_column, tz_column, default_tz)
    return _import(
        io.StringIO("".join(_lines(source))), "<input>", default_region, number_column, tz_column, default_tz
    )


def _decoded(fh: Iterable[bytes], name: str) -> Iterator[str]:
    """The file's lines as text, decoded one line at a time so an invalid byte is reported on its line."""
    for number, raw in enumerate(fh, 1):
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise ContactImportError(f"{name}: line {number}: not UTF-8 text ({exc.reason})") from None


def read_rows(fh: Iterable[str], name: str) -> Iterator[tuple[int, list[str]]]:
    """``(line, fields)`` of each CSV record, ``line`` being where the record starts.

    Quoting is strict (an unclosed or stray quote is an error, not a field that swallows the rows after
    it) and fields are bounded by ``FIELD_LIMIT``; ContactImportError names ``name`` and the line.
    """
    previous = csv.field_size_limit(FIELD_LIMIT)  # process-wide in the csv module: restored below
    reader = csv.reader(fh, strict=True)
    try:
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                reason = str(exc)
                if "field larger than field limit" in reason:
                    reason = f"a field is longer than {FIELD_LIMIT} characters"
                elif reader.line_num > start or "unexpected end of data" in reason:
                    reason = f"a quoted field is not closed (it runs to line {reader.line_num}): {reason}"
                raise ContactImportError(f"{name}: line {start}: {reason}") from None
            yield start, row
    finally:
        csv.field_size_limit(previous)


def _lines(lines: Iterable[str]) -> Iterable[str]:
    for line in lines:
        yield line if line.endswith("\n") else line + "\n"


def _import(
    fh: Iterable[str],
    name: str,
    region: str,
    number_column: str,
    tz_column: str,
    default_tz: str | None,
) -> ImportReport:
    if default_tz is not None and not _valid_zone(default_tz):
        raise ContactImportError(f"{name}: default time zone {default_tz!r} is unknown")
    records = read_rows(fh, name)
    header = next(records, (1, None))[1]
    if header is None or number_column not in header:
        raise ContactImportError(f"{name}: line 1: field {number_column!r}: missing column")
    report = ImportReport(source=name)
    first: dict[str, int] = {}
    for line, fields in records:
        if not fields:
            continue  # a blank line, as csv.DictReader skips it
        if len(fields) > len(header):
            report.rejected.append(RowIssue(line, "*", f"{len(fields) - len(header)} more fields than the header"))
            continue
        row: dict[str, str | None] = {h: fields[i] if i < len(fields) else None for i, h in enumerate(header)}
        raw = (row.get(number_column) or "").strip()
        if not raw:
            report.rejected.append(RowIssue(line, number_column, "empty number"))
            continue
        try:
            number = normalise_number(raw, region)
        except ValueError as exc:
            report.rejected.append(RowIssue(line, number_column, str(exc)))
            continue
        data = {k: (v or "").strip() for k, v in row.items() if k not in (number_column, tz_column)}
        if number in first:
            index = first[number]
            kept = report.contacts[index]
            filled = {k: (kept.data.get(k) or v) for k, v in data.items()} | {
                k: v for k, v in kept.data.items() if k not in data
            }
            report.contacts[index] = Contact(kept.number, kept.time_zones, filled, kept.line)
            report.merged.append(RowIssue(line, number_column, f"duplicate of line {kept.line}, merged"))
            continue
        tz_raw = (row.get(tz_column) or "").strip()
        if tz_raw:
            if not _valid_zone(tz_raw):
                report.rejected.append(RowIssue(line, tz_column, f"unknown time zone {tz_raw!r}"))
                continue
            zones: tuple[str, ...] = (tz_raw,)
        else:
            zones = zones_for_number(number) or ((default_tz,) if default_tz else ())
        if not zones:
            report.rejected.append(RowIssue(line, tz_column, "no time zone in the row or from the number"))
            continue
        first[number] = len(report.contacts)
        report.contacts.append(Contact(number, zones, data, line))
    return report

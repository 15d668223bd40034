"""Bounded, linear-time splitting of an ESL byte stream into header blocks and bodies (sans-IO).

This is the layer under :mod:`engine.esl.codec`'s parsers. Its promises, for ANY byte sequence
split into pieces in ANY way:

* it returns values or raises only :class:`ESLProtocolError` (and subclasses);
* memory is bounded by :class:`Limits`: a header block is never buffered past
  ``header_bytes``, a body is never buffered past ``body_bytes`` (an oversized body is skipped,
  counted down without being kept, so the stream stays in step);
* time is linear in the input: the search for the blank line that ends a header block resumes
  where the previous piece left off instead of rescanning the buffer.

An error becomes a :class:`Broken` item in the output, after the good items that came before it,
so the reader can deliver those and then decide (hotline's transport closes the connection).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from urllib.parse import unquote

T = TypeVar("T")


class ESLProtocolError(Exception):
    """A frame or event that does not follow the ESL wire format."""


class FrameTooLarge(ESLProtocolError):
    """A header block, a header count or a Content-Length over the configured :class:`Limits`."""


@dataclass(frozen=True)
class Limits:
    """What one frame may hold (``freeswitch.esl_max_*`` in the config; docs/configuration.md).

    The largest frames in the recordings of a real FreeSWITCH (``shared/esl``, a SIP call's
    channel data) have a 9.1 kB header block and 236 headers; bodies of ``api`` commands such as
    ``show channels`` grow with the number of calls.
    """

    header_bytes: int = 64 * 1024
    headers: int = 1024
    body_bytes: int = 16 * 1024 * 1024


DEFAULT_LIMITS = Limits()

#: How much of a bad frame is kept for the log line.
RAW_KEPT = 256

_NOT_NEWLINE = re.compile(rb"[^\n]")
_DIGITS = re.compile(r"[0-9]{1,18}")
_DECLARED = re.compile(rb"(?:^|\n)Content-Length: *([0-9]{1,18}) *(?:\n|$)")


@dataclass(frozen=True)
class Broken:
    """A piece of the stream that is not a frame: its first bytes and why."""

    raw: bytes
    error: ESLProtocolError


def parse_header_block(text: str, limits: Limits = DEFAULT_LIMITS) -> list[tuple[str, str]]:
    """``Name: value`` lines (values URL-decoded) in order; blank lines are skipped."""
    headers: list[tuple[str, str]] = []
    for line in text.split("\n"):
        if not line:
            continue
        if len(headers) >= limits.headers:
            raise FrameTooLarge(f"more than {limits.headers} headers")
        name, sep, value = line.partition(": ")
        if not sep:
            name, sep, value = line.partition(":")
        if not sep or not name or " " in name:
            raise ESLProtocolError(f"header line without 'Name: value': {line[:80]!r}")
        headers.append((name, unquote(value) if "%" in value else value))
    return headers


def lookup_regular(block: str, key: str) -> str | None:
    """The value of ``key``'s last line in a regular block (one ``:`` per line), URL-decoded; None if absent."""
    if not key or "\n" in key or ":" in key:  # no name in a regular block holds these
        return None
    at = block.rfind(f"\n{key}:")
    if at >= 0:
        at += len(key) + 2
    elif block.startswith(f"{key}:"):
        at = len(key) + 1
    else:
        return None
    end = block.find("\n", at)
    value = block[at:] if end < 0 else block[at:end]
    if value[:1] == " ":  # "Name: value"; "Name:value" is read as the full parser reads it
        value = value[1:]
    return unquote(value) if "%" in value else value


#: A regular header block with its blank line, reduced to its separators (see :func:`regular_block`).
_SEPARATORS = bytes(c for c in range(256) if c not in b": \n")
_LINES = b": \n" * 4096
_NAMELESS_OR_LENGTH = re.compile(rb"\n(?::|Content-Length:)")  # one pass (a regular line has one ":")


def regular_block(data: bytes, limits: Limits) -> bool:
    """True if ``data`` is a header block ending in its blank line whose every line is ``Name: value``
    with exactly one ``:`` and one space, a non-empty name, and no ``Content-Length``, within ``limits``.

    FreeSWITCH URL-encodes ``:`` and spaces in values, so its event blocks are regular. A regular block
    parses as :func:`parse_header_block` would, without error, and :func:`lookup_regular` reads it exactly;
    checked with a few C-speed passes over the bytes (no per-line Python work).
    """
    seps = data.translate(None, _SEPARATORS)
    n = len(seps)
    return (
        n % 3 == 1
        and n <= len(_LINES)
        and n // 3 <= limits.headers
        and len(data) - 2 <= limits.header_bytes
        and data.endswith(b"\n\n")
        and seps[:-1] == _LINES[: n - 1]
        and data[:1] != b":"
        and not data.startswith(b"Content-Length:")
        and not _NAMELESS_OR_LENGTH.search(data)
    )


def content_length(pairs: list[tuple[str, str]] | tuple[tuple[str, str], ...], limits: Limits = DEFAULT_LIMITS) -> int:
    """The ``Content-Length`` of a header block: 0 when absent; ASCII digits only, within limits."""
    values = {value.strip() for name, value in pairs if name == "Content-Length"}
    if len(values) > 1:
        raise ESLProtocolError(f"conflicting Content-Length headers: {sorted(values)[:2]}")
    value = values.pop() if values else ""
    if not value:
        return 0
    if not _DIGITS.fullmatch(value):
        raise ESLProtocolError(f"Content-Length is not a number: {value[:40]!r}")
    length = int(value)
    if length > limits.body_bytes:
        raise FrameTooLarge(f"Content-Length {length} over the limit of {limits.body_bytes} bytes")
    return length


@dataclass
class Splitter(Generic[T]):
    """Incremental: bytes in, ``(header block, body)`` pairs or :class:`Broken` out.

    ``head`` turns a header block's text into the caller's header value and its body length (it
    may raise :class:`ESLProtocolError`); the splitter then waits for that many body bytes.
    """

    limits: Limits = DEFAULT_LIMITS
    _buf: bytearray = field(default_factory=bytearray)
    _scan: int = 0  # no blank line ends before this offset of _buf
    _pending: T | None = None
    _pending_length: int = -1
    _skip: int = 0  # body bytes of a bad frame still to discard

    def feed(self, data: bytes, head: Callable[[str], tuple[T, int]]) -> list[tuple[T, bytes] | Broken]:
        """Every whole item ``data`` completes, in order; the buffer is trimmed once per call."""
        buf = self._buf
        buf += data
        out: list[tuple[T, bytes] | Broken] = []
        pos = self._run(buf, head, out)
        del buf[:pos]
        return out

    def _run(self, buf: bytearray, head: Callable[[str], tuple[T, int]], out: list[tuple[T, bytes] | Broken]) -> int:
        """Split ``buf`` from its start into ``out``; returns how far it was consumed."""
        pos, size, limit = 0, len(buf), self.limits.header_bytes
        while pos < size:
            if self._skip:
                n = min(self._skip, size - pos)
                pos += n
                self._skip -= n
                continue
            if self._pending_length >= 0:
                end = pos + self._pending_length
                if end > size:
                    break
                out.append((self._pending, bytes(buf[pos:end])))  # type: ignore[arg-type]
                pos, self._pending, self._pending_length = end, None, -1
                continue
            if self._scan == 0 and buf[pos] == 10:  # stray blank lines between frames carry nothing
                start = _NOT_NEWLINE.search(buf, pos)
                pos = start.start() if start else size
                continue
            end = buf.find(b"\n\n", pos + self._scan, pos + limit + 2)
            if end < 0:
                if size - pos > limit + 1:
                    too_large = FrameTooLarge(f"header block over {limit} bytes")
                    out.append(Broken(bytes(buf[pos : pos + RAW_KEPT]), too_large))
                    pos, self._scan = size, 0
                else:
                    self._scan = max(0, size - pos - 1)
                break
            raw = bytes(buf[pos:end])
            pos, self._scan = end + 2, 0
            try:
                value, length = head(raw.decode("utf-8", "replace"))
            except ESLProtocolError as exc:
                declared = _DECLARED.search(raw)
                self._skip = int(declared.group(1)) if declared else 0  # its body, if any, is counted down, not kept
                out.append(Broken(raw[:RAW_KEPT], exc))
                continue
            if not length:
                out.append((value, b""))
            elif pos + length <= size:  # the body is here already (nearly always): no second turn
                out.append((value, bytes(buf[pos : pos + length])))
                pos += length
            else:
                self._pending, self._pending_length = value, length
        return pos

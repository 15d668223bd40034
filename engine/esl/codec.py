"""ESL frames, sans-IO: every frame hotline reads or writes is parsed or built here.

Wire rules (checked against transcripts of a real FreeSWITCH 1.11.2 in ``shared/esl``):

* A frame is a header block (``Name: value`` lines) ended by a blank line, then ``Content-Length``
  bytes of body when that header is present.
* Header values may be URL-encoded (``Reply-Text: %2BOK%0A``); they are always decoded when read.
  Bodies are never URL-decoded: an ``api/response`` body is the command's raw output.
* Plain events are decoded lazily: a block that FreeSWITCH writes (one ``:`` and one space per line)
  is checked in a few C passes at parse time, and a header's value is decoded when it is asked for;
  any other block gets the full line-by-line parse. Results and errors are the same either way.
* ``text/event-plain``: the body is itself a header block (values URL-encoded); an event's own body,
  if any, follows that block after its own ``Content-Length`` header and a blank line.
* ``text/event-json``: the body is one JSON object; the event's own body is under ``_body``.
* A header may occur twice (CHANNEL_HANGUP_COMPLETE carries ``Hangup-Cause`` twice, in plain and
  json), so frames and events keep their header pairs in order; ``headers`` is the lookup view.
* Parsing is total and bounded (:mod:`engine.esl.framing`): for any bytes, the parsers return
  values or raise only :class:`ESLProtocolError` (and :class:`FrameTooLarge`); a frame over the
  :class:`Limits` or with a bad header block becomes a :class:`MalformedFrame` in the output, after
  the good frames before it, and parsing goes on (hotline's transport closes the connection on one).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Self
from urllib.parse import quote

from engine.esl.framing import (
    DEFAULT_LIMITS,
    Broken,
    ESLProtocolError,
    FrameTooLarge,
    Limits,
    Splitter,
    content_length,
    lookup_regular,
    parse_header_block,
    regular_block,
)

__all__ = ["DEFAULT_LIMITS", "ESLProtocolError", "FrameTooLarge", "Limits"]  # re-exported from framing

# FreeSWITCH's SWITCH_URL_UNSAFE (switch_utils.h); control and non-ASCII bytes are encoded as well.
_URL_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '\r\n #%&+:;<=>?@[\\]^`{|}"')

DISCONNECT_TEXT = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"


Pairs = tuple[tuple[str, str], ...]
HeaderInput = Mapping[str, str] | Sequence[tuple[str, str]]


def _pairs(headers: HeaderInput) -> Pairs:
    return tuple(headers.items()) if isinstance(headers, Mapping) else tuple(headers)


_MISSING = object()
_UNBOUNDED = Limits(headers=1 << 30)


class _Headed:
    """Header pairs (decoded, in wire order; a name may repeat) and a body.

    Built from pairs, or by the parsers from a block checked *regular* (:func:`regular_block`): then
    :meth:`get` decodes one header's value when asked; ``pairs``/``headers`` decode all, once.
    """

    __slots__ = ("_block", "_body", "_dict", "_pairs", "_raw", "_values")

    def __init__(self, pairs: Pairs = (), body: str = "") -> None:
        self._pairs: Pairs | None = tuple(pairs)
        self._block = ""  # a regular header block, when built lazily (then _pairs starts as None)
        self._dict: dict[str, str] | None = None
        self._values: dict[str, str] | None = None
        self._body: str | None = body
        self._raw: bytes | None = None  # the undecoded body off the wire (then _body starts as None)

    @classmethod
    def of(cls, headers: HeaderInput, body: str = "") -> Self:
        return cls(_pairs(headers), body)

    @classmethod
    def _lazy(cls, block: str, body: str = "") -> Self:
        item = cls.__new__(cls)
        item._pairs = item._dict = None
        item._block, item._values, item._body, item._raw = block, {}, body, None
        return item

    @property
    def pairs(self) -> Pairs:
        if self._pairs is None:
            self._pairs = tuple(parse_header_block(self._block, _UNBOUNDED))  # checked regular: cannot raise
        return self._pairs

    @property
    def body(self) -> str:
        if self._body is None:
            self._body = self._raw.decode("utf-8", "replace")  # type: ignore[union-attr]
        return self._body

    @property
    def headers(self) -> dict[str, str]:
        """Lookup view of ``pairs`` (a repeated name keeps its last value)."""
        if self._dict is None:
            self._dict = dict(self.pairs)
        return self._dict

    def get(self, key: str, default: str = "") -> str:
        values = self._values
        if values is None:  # built from pairs, or fully decoded already
            return self.headers.get(key, default)
        value = values.get(key, _MISSING)
        if value is _MISSING:
            value = values[key] = lookup_regular(self._block, key)
        return default if value is None else value  # type: ignore[return-value]

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.pairs == other.pairs and self.body == other.body  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self.pairs, self.body))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(pairs={self.pairs!r}, body={self.body!r})"


class Frame(_Headed):
    """One whole frame as it came off the wire; the body is never decoded."""

    __slots__ = ("_ctype",)

    def __init__(self, pairs: Pairs = (), body: str = "") -> None:
        super().__init__(pairs, body)
        self._ctype: str | None = None

    @classmethod
    def _wire(cls, pairs: Pairs | str, raw: bytes) -> Frame:
        """A frame off the wire: its pairs, or its regular header block (``str``) decoded when read."""
        item = cls.__new__(cls)
        if type(pairs) is str:
            item._block, item._pairs, item._values = pairs, None, {}
        else:
            item._block, item._pairs, item._values = "", pairs, None  # type: ignore[assignment]
        item._dict, item._body, item._raw, item._ctype = None, None, raw, None
        return item

    @property
    def content_type(self) -> str:
        ctype = self._ctype
        if ctype is None:
            ctype = self._ctype = self.get("Content-Type")
        return ctype

    @property
    def reply_text(self) -> str:
        return self.get("Reply-Text")

    @property
    def ok(self) -> bool:
        """True for a ``+OK`` reply, or an api body that does not start with ``-ERR``/``-USAGE``."""
        text = self.reply_text if self.content_type == "command/reply" else self.body
        return not text.startswith("-")


@dataclass(frozen=True)
class MalformedFrame:
    """A frame that could not be parsed (its first bytes), kept so the reader can log and count it."""

    raw: bytes
    reason: str
    too_large: bool = False


class Event(_Headed):
    """A FreeSWITCH event: its headers and its own body (e.g. a BACKGROUND_JOB's output)."""

    __slots__ = ()

    @property
    def name(self) -> str:
        return self.get("Event-Name")

    @property
    def uuid(self) -> str:
        return self.get("Unique-ID")

    def variable(self, name: str, default: str = "") -> str:
        return self.get(f"variable_{name}", default)


def url_encode(value: str) -> str:
    """Encode a header value as FreeSWITCH's ``switch_url_encode`` does."""
    return quote(value, safe=_URL_SAFE)


def _parse_header_block(text: str, limits: Limits = DEFAULT_LIMITS) -> list[tuple[str, str]]:
    return parse_header_block(text, limits)


def _malformed(broken: Broken) -> MalformedFrame:
    return MalformedFrame(broken.raw, str(broken.error), isinstance(broken.error, FrameTooLarge))


_EVENT_HEAD = re.compile(r"Content-Length: ([1-9][0-9]{0,17})\nContent-Type: (text/event-(?:plain|json))")


@dataclass
class FrameParser:
    """Incremental parser: feed bytes as they arrive, get whole frames back (bounded by ``limits``)."""

    limits: Limits = DEFAULT_LIMITS
    _split: Splitter[Pairs | str] = field(init=False)

    def __post_init__(self) -> None:
        self._split = Splitter(self.limits)

    def _head(self, text: str) -> tuple[Pairs | str, int]:
        event = _EVENT_HEAD.fullmatch(text)  # what FreeSWITCH puts before every event: read at once
        if event:
            length = int(event[1])
            if length > self.limits.body_bytes:
                raise FrameTooLarge(f"Content-Length {length} over the limit of {self.limits.body_bytes} bytes")
            return (("Content-Length", event[1]), ("Content-Type", event[2])), length
        if len(text) > _LAZY_HEAD and regular_block(f"{text}\n\n".encode(), self.limits):
            return text, 0  # a channel's data (connect's reply: ~240 headers): each decoded when read
        pairs = tuple(parse_header_block(text, self.limits))
        return pairs, content_length(pairs, self.limits)

    def feed(self, data: bytes) -> list[Frame | MalformedFrame]:
        """The frames ``data`` completes; bodies are kept as bytes until read (``Frame.body``)."""
        wire = Frame._wire
        return [
            wire(item[0], item[1]) if type(item) is tuple else _malformed(item)  # type: ignore[arg-type]
            for item in self._split.feed(data, self._head)
        ]


_LAZY_HEAD = 2048  # header blocks longer than this (and regular) are decoded a header at a time, when read


class _JsonObject(list):
    """A JSON object's pairs in order (``object_pairs_hook``), told apart from a JSON array."""


def _clean(text: str) -> str:
    """``text`` with lone surrogates (from ``\\ud800`` escapes) replaced: every value encodes as UTF-8."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode()
    return text


def _json_value(value: object) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value)
    except (ValueError, RecursionError) as exc:
        raise ESLProtocolError(f"event-json value cannot be represented: {exc}") from None


def _parse_json_event(text: str, limits: Limits) -> Event:
    try:
        items = json.loads(text, object_pairs_hook=_JsonObject)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, a number over 4300 digits, deep nesting
        raise ESLProtocolError(f"event-json body is not JSON: {str(exc)[:120]}") from None
    if not isinstance(items, _JsonObject):
        raise ESLProtocolError(f"event-json body is a JSON {type(items).__name__}, not an object")
    if len(items) > limits.headers:
        raise FrameTooLarge(f"more than {limits.headers} headers")
    surrogates = "\\u" in text
    if not surrogates:  # the usual event: every value a string, no body; checked and built at C speed
        lookup = dict(items)
        plain = len(lookup) == len(items) and "_body" not in lookup and "Content-Length" not in lookup
        if plain and set(map(type, lookup.values())) <= {str}:  # (no repeated name: every value was seen)
            event = Event(tuple(items))
            event._dict = lookup
            return event
    pairs = tuple(
        (_clean(k) if surrogates else k, _clean(v) if surrogates else v)
        for k, v in ((k, _json_value(v)) for k, v in items if k not in ("_body", "Content-Length"))
    )
    body = _json_value(next((v for k, v in items if k == "_body"), ""))
    return Event(pairs, _clean(body) if surrogates else body)


def parse_event(frame: Frame, limits: Limits = DEFAULT_LIMITS) -> Event:
    """Decode the event carried by a ``text/event-plain`` or ``text/event-json`` frame.

    Raises only :class:`ESLProtocolError` (or :class:`FrameTooLarge`), whatever the body holds.
    """
    ctype = frame.content_type
    if ctype == "text/event-plain":
        raw = frame._raw
        if raw is not None and regular_block(raw, limits):  # nearly every event: decoded when read
            return Event._lazy(raw[:-2].decode("utf-8", "replace"))
        head, sep, rest = frame.body.partition("\n\n")
        if len(head) > limits.header_bytes:
            raise FrameTooLarge(f"event header block over {limits.header_bytes} bytes")
        pairs = parse_header_block(head, limits)
        length = content_length(pairs, limits)
        body = rest.encode()[:length].decode("utf-8", "replace") if sep and length else ""
        return Event(tuple(p for p in pairs if p[0] != "Content-Length"), body)
    if ctype == "text/event-json":
        return _parse_json_event(frame.body, limits)
    if ctype == "text/disconnect-notice":
        return Event((("Event-Name", "DISCONNECT"), *frame.pairs), frame.body)
    raise ESLProtocolError(f"not an event frame: Content-Type {ctype[:80]!r}")


# ---- building frames: client side (what hotline sends) -------------------------------------------


class UnsafeValue(ValueError):
    """A value that would change the frame or the command it is put in; nothing was sent."""


_FRAME_BREAKERS = re.compile(r"[\r\n\x00]")
_ARGUMENT_BREAKERS = re.compile(r"[\s\x00-\x1f\x7f]")
_HEADER_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def line_safe(value: object, what: str) -> str:
    """``value`` if it cannot end a line or a frame (no CR, LF or NUL), else :class:`UnsafeValue`."""
    if not isinstance(value, str):
        raise UnsafeValue(f"{what}: must be text, not {type(value).__name__}")
    if _FRAME_BREAKERS.search(value):
        raise UnsafeValue(f"{what}: contains a line break or NUL: {value[:64]!r}")
    return value


def argument(value: object, what: str = "argument") -> str:
    """One argument of a command: non-empty, no whitespace and no control character."""
    if not isinstance(value, str):
        raise UnsafeValue(f"{what}: must be text, not {type(value).__name__}")
    if not value or _ARGUMENT_BREAKERS.search(value):
        raise UnsafeValue(f"{what}: must be one word without spaces or control characters: {value[:64]!r}")
    return value


def command(line: str, headers: Mapping[str, str] | None = None) -> bytes:
    """A command line, optional headers, and the blank line that ends it.

    The only way hotline builds a frame to send: a CR, LF or NUL anywhere, or a header name that is
    not a plain token, raises :class:`UnsafeValue` before anything is written.
    """
    lines = [line_safe(line, "command")]
    for name, value in (headers or {}).items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise UnsafeValue(f"header name {str(name)[:64]!r} is not a token")
        lines.append(f"{name}: {line_safe(value, f'header {name}')}")
    try:
        return ("\n".join(lines) + "\n\n").encode()
    except UnicodeEncodeError as exc:  # a lone surrogate, e.g. "\ud800" in a JSON body
        raise UnsafeValue(f"{lines[0][:64]!r}: not valid Unicode text ({exc.reason})") from None


def command_line(cmd: str, args: Sequence[str]) -> str:
    """``cmd arg1 arg2...``: with arguments, ``cmd`` and each argument must be one word."""
    if not args:
        return line_safe(cmd, "command")
    return " ".join([argument(cmd, "command"), *(argument(a, f"{cmd} argument") for a in args)])


def auth(password: str) -> bytes:
    return command(f"auth {argument(password, 'password')}")


def api(cmd: str, *args: str) -> bytes:
    return command(f"api {command_line(cmd, args)}")


def bgapi(cmd: str, *args: str, job_uuid: str | None = None) -> bytes:
    return command(f"bgapi {command_line(cmd, args)}", {"Job-UUID": job_uuid} if job_uuid else None)


def event_subscribe(fmt: str, names: list[str]) -> bytes:
    return command(command_line("event", [fmt, *names]))


def event_filter(header: str, value: str) -> bytes:
    """``filter <header> <value>``: only events whose ``header`` equals ``value`` (case-insensitive) pass.

    FreeSWITCH (mod_event_socket) lets an event through when any filter whose header the event has
    matches; an event without any filtered header is dropped (docs/freeswitch.md, "Event filters").
    """
    return command(command_line("filter", [header, value]))


def event_filter_delete(header: str, value: str) -> bytes:
    """``filter delete <header> <value>``: remove one filter added by :func:`event_filter`."""
    return command(command_line("filter", ["delete", header, value]))


def _sendmsg(uuid: str) -> str:
    return f"sendmsg {argument(uuid, 'uuid')}" if uuid else "sendmsg"


def execute(app: str, arg: str = "", *, event_uuid: str, uuid: str = "", event_lock: bool = False) -> bytes:
    """``sendmsg`` execute; completion arrives as CHANNEL_EXECUTE_COMPLETE with this Application-UUID."""
    headers = {"call-command": "execute", "execute-app-name": argument(app, "application")}
    if arg:
        headers["execute-app-arg"] = arg
    if event_lock:
        headers["event-lock"] = "true"
    headers["Event-UUID"] = event_uuid
    return command(_sendmsg(uuid), headers)


def hangup(cause: str = "NORMAL_CLEARING", uuid: str = "") -> bytes:
    return command(_sendmsg(uuid), {"call-command": "hangup", "hangup-cause": argument(cause, "hangup cause")})


# ---- building frames: server side (what the emulator sends, byte-true to FreeSWITCH) -------------


def _header_lines(headers: HeaderInput, encode: bool) -> str:
    return "".join(f"{k}: {url_encode(v) if encode else v}\n" for k, v in _pairs(headers))


def frame(headers: HeaderInput, body: str = "", *, length_first: bool = False) -> bytes:
    """A frame with ``Content-Length`` added for a body (first, as FreeSWITCH puts it on events)."""
    data = body.encode()
    pairs = _pairs(headers)
    if data:
        length = (("Content-Length", str(len(data))),)
        pairs = length + pairs if length_first else pairs + length
    return _header_lines(pairs, encode=False).encode() + b"\n" + data


def auth_request() -> bytes:
    return frame({"Content-Type": "auth/request"})


def reply(text: str, extra: HeaderInput = ()) -> bytes:
    return frame((("Content-Type", "command/reply"), ("Reply-Text", text), *_pairs(extra)))


def api_response(body: str) -> bytes:
    return frame({"Content-Type": "api/response"}, body)


def serialize_plain(headers: HeaderInput, body: str = "") -> str:
    """An event as FreeSWITCH's ``switch_event_serialize`` writes it (values URL-encoded)."""
    text = _header_lines(headers, encode=True)
    if body:
        text += f"Content-Length: {len(body.encode())}\n\n{body}"
    else:
        text += "\n"
    return text


def event_plain(headers: HeaderInput, body: str = "") -> bytes:
    return frame({"Content-Type": "text/event-plain"}, serialize_plain(headers, body), length_first=True)


def event_json(headers: HeaderInput, body: str = "") -> bytes:
    pairs = _pairs(headers)
    if body:
        pairs += (("Content-Length", str(len(body.encode()))), ("_body", body))
    dump = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    text = "{" + ",".join(f"{dump(k)}:{dump(v)}" for k, v in pairs) + "}"
    return frame({"Content-Type": "text/event-json"}, text, length_first=True)


def channel_data_reply(channel_headers: HeaderInput) -> bytes:
    """The reply to ``connect`` on an outbound socket: the channel's data, then the reply headers."""
    text = serialize_plain(channel_headers).rstrip("\n") + "\n"
    text += "Content-Type: command/reply\nReply-Text: %2BOK%0A\nSocket-Mode: async\nControl: full\n\n"
    return text.encode()


def disconnect_notice(linger: HeaderInput | None = None) -> bytes:
    """The goodbye notice; with ``linger`` headers, the lingering-socket form (empty body)."""
    if linger is not None:
        pairs = (("Content-Type", "text/disconnect-notice"), *_pairs(linger), ("Content-Length", "0"))
        return _header_lines(pairs, encode=False).encode() + b"\n"
    return frame({"Content-Type": "text/disconnect-notice"}, DISCONNECT_TEXT)


# ---- parsing commands: server side (what the emulator reads) -------------------------------------


@dataclass(frozen=True)
class Command:
    """A client command: its first line, the header pairs after it (decoded), and a body if any."""

    line: str
    pairs: Pairs = ()
    body: str = ""

    @cached_property
    def headers(self) -> dict[str, str]:
        return dict(self.pairs)


@dataclass
class CommandParser:
    """Incremental parser for what an ESL client sends: ``line\\n[Name: value\\n]*\\n[body]``.

    CRLF line ends are read as LF (also when the CR and the LF arrive in different pieces).
    """

    limits: Limits = DEFAULT_LIMITS
    _split: Splitter[Command] = field(init=False)
    _cr: bool = False

    def __post_init__(self) -> None:
        self._split = Splitter(self.limits)

    def _head(self, text: str) -> tuple[Command, int]:
        line, _, rest = text.partition("\n")
        pairs = tuple(parse_header_block(rest, self.limits))
        return Command(line.strip(), pairs), content_length(pairs, self.limits)

    def feed(self, data: bytes) -> list[Command | MalformedFrame]:
        if self._cr:
            data = b"\r" + data
        self._cr = data.endswith(b"\r")
        data = data[:-1] if self._cr else data
        return [
            Command(item[0].line, item[0].pairs, item[1].decode("utf-8", "replace"))
            if isinstance(item, tuple)
            else _malformed(item)
            for item in self._split.feed(data.replace(b"\r\n", b"\n"), self._head)
        ]

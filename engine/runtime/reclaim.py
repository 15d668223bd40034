"""Callers keep their place: written on their channel when they queue, taken back after a restart.

When a caller joins a queue, their place (queue, priority, first join time) and what the IVR learned
(flow, path, the variables it set) go on their channel as ``hotline_*`` variables
(:func:`write_place`). If hotline's socket drops, the dialplan (dialplans/default.xml, extension
``hotline_park``) holds them with music for ``hotline_reclaim_seconds`` and sets
``hotline_parked=true``. :class:`Reclaimer` lists FreeSWITCH's channels, holds each parked caller's
place in the ACD (``Acd.park``: original join time and priority) and ``uuid_transfer``\\ s the channel
back to the hotline number: FreeSWITCH connects it to hotline's socket again, and its call session
(:func:`read_place`) queues it where it was (``Acd.reclaim``) without answering or running the IVR again.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import gevent
from gevent.event import Event

from engine.esl.codec import UnsafeValue
from engine.esl.dialstring import extension
from engine.ivr import actions as a
from engine.runtime.acd_shell import AcdShell
from engine.transport import ESLError

log = logging.getLogger(__name__)

# The channel variables hotline writes when a caller queues (docs/operations.md lists them).
QUEUE, PRIORITY, JOINED, CREATED = "hotline_queue", "hotline_priority", "hotline_joined_at", "hotline_created_at"
FLOW, PATH, INPUTS = "hotline_flow", "hotline_ivr_path", "hotline_inputs"
CALLER = "hotline_caller"  # the caller's number, base64url without padding: read by ended_calls.py, not here
AGENT = "hotline_agent"  # set on a caller once an agent has them (live-call adoption): never reclaimed
PARKED = "hotline_parked"  # set to "true" by the dialplan's park, "false" when hotline takes the caller back
RECLAIM_SECONDS = "hotline_reclaim_seconds"  # the park's timer; hotline shortens it per call when it drains
PLACE = (QUEUE, PRIORITY, JOINED, CREATED, FLOW, PATH, INPUTS)
NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
PARK_APPLICATIONS = ("playback", "execute_extension")
MAX_ENCODED = 8000  # bytes of base64 per variable: a flow's variables beyond that are not kept


class BadPlace(ValueError):
    """A channel's place variables are missing or malformed (named in the message)."""


@dataclass(frozen=True)
class Place:
    """A queued caller's place, as written on (and read back from) their channel."""

    queue: str
    priority: int
    joined: float  # epoch seconds of their first join
    created: float  # epoch seconds the call arrived
    flow: str | None
    ivr_path: list[str]
    inputs: dict[str, Any]


def _encode(value: object) -> str:
    text = base64.urlsafe_b64encode(json.dumps(value, default=str, separators=(",", ":")).encode()).decode()
    return text if len(text) <= MAX_ENCODED else base64.urlsafe_b64encode(b"null").decode()


def _decode(name: str, text: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(text.encode("ascii"))) if text else None
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise BadPlace(f"{name}: not base64 JSON ({exc.__class__.__name__})") from None


def place_variables(place: Place) -> dict[str, str]:
    """The channel variables for ``place``: plain names and numbers, JSON as base64url (no ``;``,
    ``$``, spaces or newlines reach the ESL frame, whatever the caller keyed or said)."""
    return {
        QUEUE: place.queue,
        PRIORITY: str(place.priority),
        JOINED: f"{place.joined:.3f}",
        CREATED: f"{place.created:.3f}",
        FLOW: place.flow or "",
        PATH: _encode(place.ivr_path),
        INPUTS: _encode(place.inputs),
    }


def write_place(esl: Any, trace: Any, queue: str, priority: int, extra: dict[str, str] | None = None) -> bool:
    """Write the caller's place (from their call trace) on the channel in one ``uuid_setvar_multi``, with
    the ``extra`` variables the queued call needs (the same command: one fewer per call); a failure is
    logged, not raised (the caller is still served, just not taken back after a crash)."""
    uuid = trace.uuid
    place = Place(
        queue, priority, epoch(trace.queued_at), epoch(trace.created_at), trace.flow, trace.ivr_path, trace.ivr_inputs
    )
    if not NAME.fullmatch(place.queue) or (place.flow and not NAME.fullmatch(place.flow)):
        log.warning("%s: queue or flow name unfit for a channel variable; place not written", uuid)
        return False
    pairs = ";".join(f"{k}={v}" for k, v in {**place_variables(place), **(extra or {})}.items() if v)
    if caller := base64.urlsafe_b64encode(str(trace.caller or "")[:64].encode()).decode().rstrip("="):
        pairs += f";{CALLER}={caller}"
    try:
        reply = esl.api("uuid_setvar_multi", uuid, pairs)
    except ESLError as exc:
        log.info("%s: place not written: %s", uuid, exc)
        return False
    return reply.startswith("+OK")


def parse_place(values: dict[str, str]) -> Place:
    """A :class:`Place` from channel variables; :class:`BadPlace` names the first bad one."""
    queue = values.get(QUEUE, "")
    if not NAME.fullmatch(queue):
        raise BadPlace(f"{QUEUE}: {queue[:40]!r} is not a queue name")
    numbers = {}
    for name in (PRIORITY, JOINED, CREATED):
        raw = values.get(name, "")
        try:
            numbers[name] = float(raw)
        except ValueError:
            raise BadPlace(f"{name}: {raw[:40]!r} is not a number") from None
        if numbers[name] != numbers[name] or abs(numbers[name]) > 1e12:
            raise BadPlace(f"{name}: {raw[:40]!r} is out of range")
    if not numbers[PRIORITY].is_integer():
        raise BadPlace(f"{PRIORITY}: {values[PRIORITY][:40]!r} is not an integer")
    flow = values.get(FLOW) or None
    if flow is not None and not NAME.fullmatch(flow):
        raise BadPlace(f"{FLOW}: {flow[:40]!r} is not a flow name")
    path, inputs = _decode(PATH, values.get(PATH, "")), _decode(INPUTS, values.get(INPUTS, ""))
    if path is not None and not (isinstance(path, list) and all(isinstance(p, str) for p in path)):
        raise BadPlace(f"{PATH}: not a list of names")
    if inputs is not None and not isinstance(inputs, dict):
        raise BadPlace(f"{INPUTS}: not an object")
    return Place(queue, int(numbers[PRIORITY]), numbers[JOINED], numbers[CREATED], flow, path or [], inputs or {})


def read_place(call: Any) -> Place | None:
    """The place of a call FreeSWITCH hands back after a reclaim (its ``connect`` data), else None."""
    if call.variable(PARKED) != "true":
        return None
    try:
        return parse_place({name: call.variable(name) for name in PLACE})
    except BadPlace as exc:
        log.warning("%s: parked caller's place unreadable (%s): a new call", call.uuid, exc)
        return None


def resume(esl: Any, trace: Any, place: Place) -> a.Queue:
    """A parked caller taken back: their call trace as it was; the queue action that puts them back."""
    trace.created_at = trace.answered_at = datetime.fromtimestamp(place.created, UTC)
    trace.queued_at, trace.flow = datetime.fromtimestamp(place.joined, UTC), place.flow
    trace.ivr_path, trace.ivr_inputs = list(place.ivr_path), dict(place.inputs)
    esl.execute("set", f"{PARKED}=false", timeout=10)
    log.info("%s: reclaimed into %s", trace.uuid, place.queue)
    return a.Queue(place.queue, place.queue, place.priority)


def epoch(moment: datetime | None) -> float:
    return (moment or datetime.now(UTC)).timestamp()


class Reclaimer:
    """Finds parked callers in FreeSWITCH's channel list and takes them back into their queues.

    :meth:`reclaim_once` runs at start (before new calls are taken: :attr:`settled`) and then every
    ``scan_seconds`` (callers parked later: a caller's hold music ends at most one chunk after the
    socket dropped, and a socket can drop while hotline stays up).
    """

    def __init__(
        self,
        acd: AcdShell,
        control: Any,
        *,
        scan_seconds: float = 5.0,
        settle_seconds: float = 5.0,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.acd, self.control = acd, control
        self.scan_seconds, self.settle_seconds, self.wall = scan_seconds, settle_seconds, wall
        self.settled = Event()  # the start's pass is over: new calls may be taken
        self.pending: dict[str, float] = {}  # transferred back, socket not yet here: uuid -> deadline
        self.reclaimed = 0
        self._greenlet: gevent.Greenlet | None = None

    def start(self) -> None:
        """The start's pass (blocking until every reclaimed caller is back or ``settle_seconds``), then
        the periodic scan in the background."""
        try:
            wait = getattr(self.control, "wait_connected", None)
            if wait is not None:  # FreeSWITCH's channel list first, however the engine was started
                wait(self.settle_seconds)
            self.reclaim_once()
            self.settle()
        except ESLError as exc:  # FreeSWITCH not reachable yet: the periodic scan takes them later
            log.warning("reclaim at start: %s", exc)
        finally:
            self.settled.set()
        self._greenlet = gevent.spawn(self._scan_forever)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill()
            self._greenlet = None

    def _scan_forever(self) -> None:
        while True:
            gevent.sleep(self.scan_seconds)
            try:
                self.reclaim_once()
                self._expire()
            except ESLError as exc:  # FreeSWITCH away or reconnecting: the next scan tries again
                log.debug("reclaim scan: %s", exc)
            except Exception:
                log.exception("reclaim scan failed; retrying in %.1f s", self.scan_seconds)

    def parked_channels(self) -> list[tuple[str, str, Place]]:
        """(uuid, hotline number, place) of each parked caller FreeSWITCH holds, oldest join first."""
        reply = self.control.api("show", "channels", "as", "json")
        try:
            rows = json.loads(reply).get("rows") or []
        except (ValueError, AttributeError):
            raise ESLError(f"show channels: not JSON: {reply[:80]!r}") from None
        found = []
        for row in rows:
            uuid = str(row.get("uuid", ""))
            if not uuid or uuid in self.pending or self.acd.acd.has_call(uuid):  # the ACD holds it (or parked)
                continue
            if row.get("direction") != "inbound" or row.get("application") not in PARK_APPLICATIONS:
                continue  # the park plays music inside execute_extension: nothing else is asked about
            if self._getvar(uuid, PARKED) != "true" or self._getvar(uuid, AGENT):
                continue
            try:
                place = parse_place({name: self._getvar(uuid, name) for name in PLACE})
                number = extension(str(row.get("dest", "")), "hotline number")
            except (BadPlace, UnsafeValue) as exc:
                log.warning("parked channel %s not reclaimed: %s", uuid, exc)
                continue
            found.append((uuid, number, place))
        return sorted(found, key=lambda item: (item[2].joined, item[0]))

    def _getvar(self, uuid: str, name: str) -> str:
        value = self.control.api("uuid_getvar", uuid, name).strip()
        return "" if value in ("_undef_", "") or value.startswith("-ERR") else value

    def reclaim_once(self) -> int:
        """Hold each parked caller's place in the ACD, then transfer them back; returns how many."""
        taken = 0
        for uuid, number, place in self.parked_channels():
            if not self.acd.acd.has_queue(place.queue):
                log.warning("parked caller %s: queue %r is gone; left to the dialplan's fallback", uuid, place.queue)
                continue
            now = self.acd.clock()
            joined = now - max(0.0, self.wall() - place.joined)
            self.acd.apply(lambda t, u=uuid, p=place, j=joined: self.acd.acd.park(u, p.queue, p.priority, j, t))
            try:
                self.control.api("uuid_transfer", uuid, number, "XML", "default")
            except ESLError as exc:
                log.info("parked caller %s: transfer failed: %s", uuid, exc)
                self.acd.apply(lambda t, u=uuid: self.acd.acd.call_ended(u, t))
                continue
            self.pending[uuid] = time.monotonic() + self.settle_seconds
            taken += 1
            self.reclaimed += 1
            log.info("parked caller %s: back to queue %s (priority %d)", uuid, place.queue, place.priority)
        return taken

    def settle(self) -> None:
        """Wait until every transferred caller is back on a socket, at most ``settle_seconds``."""
        deadline = time.monotonic() + self.settle_seconds
        while self._expire() and time.monotonic() < deadline:
            gevent.sleep(0.02)
        self._expire(force=True)

    def _expire(self, *, force: bool = False) -> int:
        """Forget callers who came back; end the places of those who did not in time (hung up during
        the transfer). Returns how many are still awaited."""
        for uuid, deadline in list(self.pending.items()):
            if not self.acd.acd.is_parked(uuid):
                del self.pending[uuid]
            elif force or time.monotonic() > deadline:
                del self.pending[uuid]
                log.warning("parked caller %s did not come back; their place is released", uuid)
                self.acd.apply(lambda t, u=uuid: self.acd.acd.call_ended(u, t))
        return len(self.pending)


def bounded(music: str, seconds: float) -> str:
    """``music`` limited to ``seconds`` with the ``timeout`` file parameter (merged into a leading
    ``{...}`` if it has one); 0 leaves it endless."""
    if seconds <= 0:
        return music
    timeout = f"timeout={int(seconds * 1000)}"
    if music.startswith("{") and "}" in music:
        params, _, rest = music[1:].partition("}")
        kept = [p for p in params.split(",") if p and not p.startswith("timeout=")]
        return "{" + ",".join([*kept, timeout]) + "}" + rest
    return "{" + timeout + "}" + music

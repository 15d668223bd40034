"""The scripted FreeSWITCH of the runtime tests: each test says how 'FreeSWITCH' answers.

:class:`Switch` listens like FreeSWITCH's event socket (a :class:`~tests.scripted_peer.ScriptedPeer`):
a real :class:`~engine.transport.InboundClient` authenticates, subscribes (kept in
:attr:`Switch.subscriptions`) and sends ``api``/``bgapi`` commands. A call's outbound socket is a
:class:`Call`: :meth:`Switch.call` hands a real :class:`~engine.transport.OutboundCall` over a socket
pair, as FreeSWITCH's ``socket`` application does, and :meth:`Switch.dial` connects to the engine's
own outbound-socket port. Every command is kept in :attr:`Switch.commands` in the order it arrived
(``api uuid_kill L``, ``bgapi originate ...``, ``execute playback /x.wav``, ``hangup CAUSE``), and a
call's own in :attr:`Call.log`.

Replies follow rules (:meth:`Switch.on`, :meth:`Switch.on_execute`; the latest matching rule wins, a
callable rule returning None passes to the earlier ones): a text (an api's body, a bgapi's
BACKGROUND_JOB body; ``-ERR ...`` for a failure), an ``AsyncResult`` (the reply or result is sent when
the test sets it), :class:`Refused` (the command itself refused), :data:`HOLD` (the reply or result waits
for :meth:`Switch.finish`), :data:`SILENT` (never answered: the command times out) or :data:`DROP` (the
connection closes). Events are sent with :meth:`Switch.event` and :meth:`Call.event`.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import gevent
from gevent import socket
from gevent.event import AsyncResult
from gevent.lock import Semaphore
from gevent.queue import Queue

from engine.esl import codec
from engine.metrics import Metrics
from engine.transport import InboundClient, OutboundCall
from tests.scripted_peer import PeerConnection, ScriptedPeer, auth_ok

HOLD = "<hold>"
"""Rule reply: keep the command's reply (api) or result (bgapi, execute) until :meth:`Switch.finish`."""
SILENT = "<silent>"
"""Rule reply: never answer (the caller's timeout decides)."""
DROP = "<drop>"
"""Rule reply: FreeSWITCH goes away: the connection closes instead of a reply."""
GONE = "<gone>"
"""Execute rule: the channel hangs up while the application runs (disconnect notice, no completion)."""
PASSWORD = "pw"
CALL = "7f4de4b2-call-0001"
"""A call's channel (``Unique-ID``) unless the test names another."""
CALLER = "13800138000"
MOH = "local_stream://moh"
HELD = "{timeout=20000}local_stream://moh"  # hold music as a call session sends it: 20 s chunks
"""The hold music: it plays until ``uuid_break``."""


@dataclass(frozen=True)
class Refused:
    """Rule reply: a ``command/reply`` with this text (the api or bgapi command itself refused)."""

    text: str = "-ERR command not found"


Reply = str | Refused | AsyncResult
Rule = Reply | Callable[[str], Reply | None]
ExecReply = Mapping[str, str] | str | Callable[[str], Mapping[str, str] | str]


def wait_until(condition: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
    """Poll ``condition`` until it returns something truthy (a deadline, not a sleep); fail after ``timeout`` s."""
    with gevent.Timeout(timeout, AssertionError(f"timed out waiting for {what}")):
        while not (result := condition()):
            gevent.sleep(0.002)
    return result


def originate_uuid(line: str) -> str:
    """The ``origination_uuid`` of an ``originate`` command line ('' if none)."""
    found = re.search(r"origination_uuid=([^,}]+)", line)
    return found.group(1) if found else ""


@dataclass
class _Held:
    line: str
    send: Callable[[str], None]


@dataclass
class _Side:
    """One connection's FreeSWITCH side: its socket, a lock for writes from several greenlets."""

    sock: socket.socket
    lock: Semaphore = field(default_factory=Semaphore)
    open: bool = True

    def send(self, data: bytes) -> None:
        with self.lock:
            if self.open:
                try:
                    self.sock.sendall(data)
                except OSError:
                    self.open = False

    def drop(self) -> None:
        """Close for real (the server still holds a reference): the client reads EOF."""
        self.open = False
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


class Switch:
    """FreeSWITCH as the test scripts it (see the module's notes)."""

    def __init__(self) -> None:
        self.commands: list[str] = []
        self.subscriptions: list[str] = []
        self._received: Queue = Queue()
        self._rules: list[tuple[str, Rule]] = []
        self._exec_rules: list[tuple[str, ExecReply]] = []
        self._held: list[_Held] = []
        self._sides: list[_Side] = []
        self._calls: list[Call] = []
        self._clients: list[InboundClient] = []
        self._waiting: list[gevent.Greenlet] = []  # replies waiting on the test's AsyncResult
        self._peer = ScriptedPeer(self._inbound)
        self.port = self._peer.start()

    # ---- scripting ---------------------------------------------------------------------------

    def on(self, prefix: str, reply: Rule) -> None:
        """Answer commands starting with ``prefix`` (``api uuid_kill``, ``bgapi originate``; ``""`` for
        all) with ``reply``. An api reply is its body; a bgapi reply is the BACKGROUND_JOB's body
        (``+OK <uuid>`` or ``-ERR NO_ANSWER``)."""
        self._rules.append((prefix, reply))

    def on_execute(self, app: str, reply: ExecReply) -> None:
        """Complete application ``app`` with these ``variable_*`` values (a mapping; a key with a ``-``, such
        as ``Application-Response``, is a header of its own); or refuse it (``-ERR ...``), or GONE/HOLD/SILENT.
        A callable gets the application's argument."""
        self._exec_rules.append((app, reply))

    def event(self, name: str, unique_id: str, **headers: str) -> None:
        """Send an event (json, as hotline subscribes) on every connection; ``variable_x=...`` as headers."""
        data = codec.event_json({"Event-Name": name, "Unique-ID": unique_id, **headers})
        for side in [*self._sides, *(call.side for call in self._calls)]:
            side.send(data)

    def hangup(self, unique_id: str, cause: str = "NORMAL_CLEARING", **headers: str) -> None:
        """CHANNEL_HANGUP_COMPLETE of a leg, as the dialler connection hears it."""
        self.event("CHANNEL_HANGUP_COMPLETE", unique_id, **{"Hangup-Cause": cause, **headers})

    def finish(self, prefix: str, reply: str, timeout: float = 5.0) -> str:
        """Send the held reply or result of the first held command starting with ``prefix``; its line."""
        held = wait_until(
            lambda: next((h for h in self._held if h.line.startswith(prefix)), None), timeout, f"held {prefix!r}"
        )
        self._held.remove(held)
        held.send(reply)
        return held.line

    def wait_command(self, prefix: str, timeout: float = 5.0) -> str:
        """The first command received starting with ``prefix`` (waits for it)."""
        return wait_until(
            lambda: next((c for c in self.commands if c.startswith(prefix)), None), timeout, f"command {prefix!r}"
        )

    def wait_for(self, prefix: str, timeout: float = 5.0) -> str:
        """The next control command starting with ``prefix`` not yet taken by ``wait_for`` (skips others)."""
        with gevent.Timeout(timeout, AssertionError(f"no command {prefix!r}; got {self.commands}")):
            while not (line := self._received.get()).startswith(prefix):
                pass
        return line

    def sent(self, prefix: str = "") -> list[str]:
        """Commands received so far that start with ``prefix``."""
        return [c for c in self.commands if c.startswith(prefix)]

    # ---- connections -------------------------------------------------------------------------

    def client(
        self, metrics: Metrics | None = None, *, timeout: float = 2.0, events: tuple[str, ...] = ("ALL",)
    ) -> InboundClient:
        """A connected control client (hotline's InboundClient) to this switch, stopped by :meth:`close`."""
        client = InboundClient(
            "127.0.0.1", self.port, PASSWORD, list(events), metrics=metrics, timeout=timeout, backoff=(0.01, 0.05)
        )
        client.start(wait=5)
        self._clients.append(client)
        return client

    def call(
        self, channel: Mapping[str, str] | None = None, metrics: Metrics | None = None, *, timeout: float = 2.0
    ) -> tuple[OutboundCall, Call]:
        """A call's outbound socket over a socket pair, handshaken: hotline's end and FreeSWITCH's.
        ``channel``: the channel's data (default :func:`channel_data`)."""
        ours, theirs = socket.socketpair()
        outbound = OutboundCall(ours, metrics=metrics, timeout=timeout)
        outbound.start()
        call = Call(self, theirs, channel or channel_data())
        outbound.handshake(2.0)
        return outbound, call

    def outbound_call(
        self, channel: Mapping[str, str], metrics: Metrics | None = None, *, timeout: float = 2.0
    ) -> OutboundCall:
        """hotline's end of :meth:`call`."""
        return self.call(channel, metrics, timeout=timeout)[0]

    def dial(self, port: int, channel: Mapping[str, str] | None = None) -> Call:
        """FreeSWITCH hands a call to hotline's outbound-socket server on ``port``."""
        return Call(self, socket.create_connection(("127.0.0.1", port)), channel or channel_data())

    def drop_all(self) -> None:
        """Close every control connection (FreeSWITCH restarted); calls' sockets stay."""
        for side in list(self._sides):
            side.drop()

    def close(self) -> None:
        for client in self._clients:
            client.stop()
        for side in [*self._sides, *(call.side for call in self._calls)]:
            side.drop()
        gevent.killall([*self._waiting, *(call.server for call in self._calls)], block=False)
        self._peer.stop()

    # ---- the control side --------------------------------------------------------------------

    def _inbound(self, conn: PeerConnection) -> None:
        if not auth_ok(conn, PASSWORD):
            return
        side = _Side(conn.sock)
        self._sides.append(side)
        parser = codec.CommandParser()
        try:
            while data := side.sock.recv(65536):
                for command in parser.feed(data):
                    assert isinstance(command, codec.Command), command
                    if not self._answer(side, command):
                        return
        except OSError:
            return
        finally:
            side.open = False
            if side in self._sides:
                self._sides.remove(side)

    def rule(self, line: str) -> Reply | None:
        """The reply the rules give ``line`` (None: no rule answers it)."""
        for prefix, rule in reversed(self._rules):
            if line.startswith(prefix) and (reply := rule(line) if callable(rule) else rule) is not None:
                return reply
        return None

    def _answer(self, side: _Side, command: codec.Command) -> bool:
        """Answer one control command; False when the connection is to close."""
        line = command.line
        if line.startswith("event "):
            self.subscriptions.append(line)
            side.send(codec.reply("+OK event listener enabled json"))
            return True
        if line.startswith(("filter ", "nixevent ")):  # event filters hotline sets on its connections
            self.subscriptions.append(line)
            if self.rule(line) != SILENT:  # on(<prefix>, SILENT): a switch too slow to answer it
                side.send(codec.reply("+OK"))
            return True
        if line == "exit":
            side.send(codec.reply("+OK bye"))
            return False
        self.commands.append(line)
        self._received.put(line)
        if line.startswith("api "):
            reply = self.rule(line)
            return self._reply(
                side, line, "+OK\n" if reply is None else reply, lambda t: side.send(codec.api_response(t))
            )
        if line.startswith("bgapi "):
            return self.bgapi(side, command)
        side.send(codec.reply(f"-ERR command not found: {line}"))
        return True

    def bgapi(self, side: _Side, command: codec.Command) -> bool:
        """Answer a ``bgapi`` (received on a control connection or a call's socket)."""
        line = command.line
        job = command.headers.get("Job-UUID") or str(uuid.uuid4())
        rule = self.rule(line)
        reply = f"+OK {originate_uuid(line) or job}\n" if rule is None else rule
        if isinstance(reply, str) and reply in (SILENT, DROP):
            return self._reply(side, line, reply, side.send)
        if not isinstance(reply, Refused):
            side.send(codec.reply(f"+OK Job-UUID: {job}", {"Job-UUID": job}))
        return self._reply(side, line, reply, lambda text: side.send(_job_event(job, line, text)))

    def _reply(self, side: _Side, line: str, reply: Reply, send: Callable[[str], None]) -> bool:
        if isinstance(reply, Refused):
            side.send(codec.reply(reply.text))
        elif isinstance(reply, AsyncResult):
            self._waiting.append(gevent.spawn(lambda: send(reply.get())))
        elif reply == DROP:
            side.drop()
            return False
        elif reply == HOLD:
            self._held.append(_Held(line, send))
        elif reply != SILENT:
            send(reply)
        return True


def channel_data(unique_id: str = CALL, caller: str = CALLER, destination: str = "4000") -> dict[str, str]:
    """A call's channel data, as FreeSWITCH's reply to ``connect`` carries it."""
    return {"Unique-ID": unique_id, "Caller-Caller-ID-Number": caller, "Caller-Destination-Number": destination}


class Call:
    """FreeSWITCH's side of one call's outbound socket.

    Applications follow the switch's :meth:`~Switch.on_execute` rules; without one they complete at
    once, except the hold music (:data:`MOH`), which plays until ``uuid_break``; ``play_and_get_digits``
    returns the next of :attr:`keys`. ``uuid_bridge`` is followed by the caller's
    CHANNEL_BRIDGE; once the caller is gone, applications are refused and ``api`` answers
    ``-ERR No such channel!``. :attr:`log` has what the call was told, in order (``execute answer``,
    ``execute playback <file>``, ``api uuid_break <uuid> all``, ``hangup <cause>``)."""

    def __init__(self, switch: Switch, sock: socket.socket, channel: Mapping[str, str]) -> None:
        self.switch, self.channel = switch, dict(channel)
        self.uuid = self.channel["Unique-ID"]
        self.side = _Side(sock)
        self.log: list[str] = []
        self.keys: list[str] = []
        self.gone = False
        self._told: Queue = Queue()
        self._playing: dict[str, str] = {}  # Event-UUID -> app of what plays until uuid_break
        switch._calls.append(self)
        self.server = gevent.spawn(self._serve)

    def event(self, name: str, **headers: str) -> None:
        """An event of this channel, on this socket."""
        self.side.send(codec.event_json({"Event-Name": name, "Unique-ID": self.uuid, **headers}))

    def press(self, digit: str) -> None:
        self.event("DTMF", **{"DTMF-Digit": digit})

    def hang_up(self, cause: str = "NORMAL_CLEARING") -> None:
        """The caller hangs up: CHANNEL_HANGUP, then the lingering socket's disconnect notice."""
        if self.gone:
            return
        self.gone = True
        self.event("CHANNEL_HANGUP", **{"Hangup-Cause": cause})
        self.side.send(codec.disconnect_notice({"Controlled-Session-UUID": self.uuid, "Content-Disposition": "linger"}))

    def wait_told(self, entry: str, timeout: float = 5.0) -> None:
        """Wait until the call is told ``entry`` (after what :meth:`wait_told` already took)."""
        with gevent.Timeout(timeout, AssertionError(f"FreeSWITCH was not told {entry!r}; log: {self.log}")):
            while self._told.get() != entry:
                pass

    def close(self) -> None:
        """The socket goes away (no CHANNEL_HANGUP ever comes)."""
        self.side.drop()

    def _tell(self, entry: str) -> None:
        self.log.append(entry)
        self.switch.commands.append(entry)
        self._told.put(entry)

    def _serve(self) -> None:
        parser = codec.CommandParser()
        with contextlib.suppress(OSError):
            while data := self.side.sock.recv(65536):
                for command in parser.feed(data):
                    assert isinstance(command, codec.Command), command
                    self._answer(command)
        self.side.open = False

    def _answer(self, command: codec.Command) -> None:
        line, headers = command.line, command.headers
        if line == "connect":
            self.side.send(codec.channel_data_reply(self.channel))
        elif line in ("myevents", "linger", "exit") or line.startswith(("event ", "linger ", "nixevent ", "filter ")):
            self.side.send(codec.reply("+OK"))
        elif line.startswith("api "):
            self._api(line)
        elif line.startswith("bgapi "):
            self._tell(line)
            self.switch.bgapi(self.side, command)
        elif headers.get("call-command") == "hangup":
            cause = headers.get("hangup-cause", "")
            self._tell(f"hangup {cause}")
            self.side.send(codec.reply("+OK"))
            self.hang_up(cause)
        elif headers.get("call-command") == "execute":
            self._execute(headers.get("execute-app-name", ""), headers.get("execute-app-arg", ""), headers)
        else:
            self.side.send(codec.reply(f"-ERR command not found: {line}"))

    def _api(self, line: str) -> None:
        self._tell(line)
        if self.gone:
            self.side.send(codec.api_response("-ERR No such channel!\n"))
            return
        rule = self.switch.rule(line)
        reply = rule if isinstance(rule, str) else "+OK\n"
        self.side.send(codec.api_response(reply))
        if line.startswith("api uuid_break "):
            for event_uuid, app in list(self._playing.items()):
                del self._playing[event_uuid]
                self._complete(app, "", event_uuid, {})
        elif line.startswith("api uuid_bridge ") and reply.startswith("+OK"):
            self.event("CHANNEL_BRIDGE", **{"Other-Leg-Unique-ID": line.split()[-1]})

    def _execute(self, app: str, arg: str, headers: Mapping[str, str]) -> None:
        line = f"execute {app} {arg}".rstrip()
        self._tell(line)
        event_uuid = headers.get("Event-UUID", "")
        rule = next((r for name, r in reversed(self.switch._exec_rules) if name == app), None)
        if self.gone:
            result: Mapping[str, str] | str = f"-ERR {app}: no such channel"
        elif rule is not None:
            result = rule(arg) if callable(rule) else rule
        else:
            result = self._default(app, arg, event_uuid)
        if isinstance(result, str) and result.startswith("-ERR"):
            self.side.send(codec.reply(result))
            return
        self.side.send(codec.reply("+OK"))
        if result == GONE:
            self.gone = True
            self.side.send(codec.disconnect_notice())
        elif result == HOLD:  # finish(prefix, "") completes it with no variables
            self.switch._held.append(_Held(line, lambda _reply: self._complete(app, arg, event_uuid, {})))
        elif isinstance(result, Mapping):
            self._complete(app, arg, event_uuid, result)

    def _default(self, app: str, arg: str, event_uuid: str) -> Mapping[str, str] | str:
        if app == "playback" and arg in (MOH, HELD):
            self._playing[event_uuid] = app
            return SILENT
        if app == "play_and_get_digits":
            return {"hotline_digits": self.keys.pop(0) if self.keys else ""}
        return {}

    def _complete(self, app: str, arg: str, event_uuid: str, variables: Mapping[str, str]) -> None:
        self.event(
            "CHANNEL_EXECUTE_COMPLETE",
            **{
                "Application": app,
                "Application-Data": arg,
                "Application-UUID": event_uuid,
                "Application-Response": "FILE PLAYED",
                **{k if "-" in k else f"variable_{k}": v for k, v in variables.items()},  # "-": a header
            },
        )


def _job_event(job: str, line: str, body: str) -> bytes:
    headers = {"Event-Name": "BACKGROUND_JOB", "Job-UUID": job, "Job-Command": line.split()[1]}
    return codec.event_json(headers, body)


@contextmanager
def switch() -> Iterator[Switch]:
    """A started :class:`Switch`, closed afterwards."""
    peer = Switch()
    try:
        yield peer
    finally:
        peer.close()

"""FreeSWITCH's side of the control connection, scripted per test, over a real socket.

:class:`ControlSwitch` authenticates, accepts the event subscription and answers every ``api`` and
``bgapi`` command with what the test's ``answer`` function says (:class:`Api`, :class:`Job`,
:class:`Refuse`, :class:`Silent`, :class:`Drop`); it keeps every command it received, in order,
for the test to assert on. Events (CHANNEL_HOLD...) can be pushed with :meth:`ControlSwitch.event`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import gevent
from gevent import socket
from gevent.event import AsyncResult
from gevent.lock import Semaphore
from gevent.queue import Queue

from engine.esl import codec
from engine.transport import OutboundCall
from tests.scripted_peer import PeerConnection, ScriptedPeer, auth_ok

PASSWORD = "pw"
CALL = "7f4de4b2-call-0001"
CALLER = "13800138000"
MOH = "local_stream://moh"


@dataclass(frozen=True)
class Api:
    """An ``api/response`` with this body (``-ERR ...`` for a failure)."""

    body: str = "+OK\n"


@dataclass(frozen=True)
class Job:
    """``+OK Job-UUID`` at once, then a BACKGROUND_JOB whose body is ``result`` (or the value of an
    AsyncResult the test sets later: the agent answers when the test says so)."""

    result: str | AsyncResult = "+OK\n"


@dataclass(frozen=True)
class Refuse:
    """A ``command/reply`` with ``-ERR text`` (the command itself refused)."""

    text: str = "-ERR command not found"


@dataclass(frozen=True)
class Silent:
    """No reply at all: the command times out."""


@dataclass(frozen=True)
class Drop:
    """FreeSWITCH goes away: the connection closes instead of a reply."""


Answer = Api | Job | Refuse | Silent | Drop


def default_answer(command: str) -> Answer:
    return Job() if command.startswith("bgapi ") else Api()


class ControlSwitch:
    """A scripted FreeSWITCH event socket for the inbound control connection.

    ``answer(command line)`` decides the reply to each ``api``/``bgapi``; :attr:`commands` has
    every command line received (``api uuid_bridge a b``, ``bgapi originate ...``), in order, and
    :attr:`received` the same lines as a queue to wait on.
    """

    def __init__(self, answer: Callable[[str], Answer] = default_answer) -> None:
        self.answer = answer
        self.commands: list[str] = []
        self.subscriptions: list[str] = []
        self.received: Queue = Queue()
        self.connections: Queue = Queue()
        self._peer = ScriptedPeer(self._serve)
        self._lock = Semaphore()
        self.port = 0

    def start(self) -> int:
        self.port = self._peer.start()
        return self.port

    def stop(self) -> None:
        self._peer.stop()

    def drop_all(self) -> None:
        """Close every open connection (FreeSWITCH restarted)."""
        for conn in list(self._peer.accepted.queue):
            _hang_up(conn)

    def next_command(self, timeout: float = 5.0) -> str:
        """The next command line received (fails the test after ``timeout`` seconds)."""
        return self.received.get(timeout=timeout)

    def wait_for(self, prefix: str, timeout: float = 5.0) -> str:
        """The next command line starting with ``prefix``, skipping others."""
        with gevent.Timeout(timeout, AssertionError(f"no command {prefix!r}; got {self.commands}")):
            while not (line := self.received.get()).startswith(prefix):
                pass
        return line

    def event(self, headers: dict[str, str], body: str = "") -> None:
        """Send an event on every open connection."""
        for conn in list(self._peer.accepted.queue):
            with contextlib.suppress(OSError):
                self._send(conn, codec.event_json(headers, body))

    def _send(self, conn: PeerConnection, data: bytes) -> None:
        with self._lock:
            conn.send(data)

    def _serve(self, conn: PeerConnection) -> None:
        if not auth_ok(conn, PASSWORD):
            return
        self.connections.put(conn)
        with contextlib.suppress(OSError):
            while raw := conn.read_command():
                line, *header_lines = raw.split("\n")
                headers = dict(h.split(": ", 1) for h in header_lines if ": " in h)
                if line.startswith("event "):
                    self.subscriptions.append(line)
                    self._send(conn, codec.reply("+OK event listener enabled json"))
                    continue
                if line == "exit":
                    self._send(conn, codec.reply("+OK bye"))
                    return
                self.commands.append(line)
                self.received.put(line)
                if not self._reply(conn, line, headers.get("Job-UUID", "")):
                    return

    def _reply(self, conn: PeerConnection, line: str, job_uuid: str) -> bool:
        """Answer one command; False when the connection is to close."""
        match self.answer(line):
            case Api(body):
                self._send(conn, codec.api_response(body))
            case Refuse(text):
                self._send(conn, codec.reply(text))
            case Job(result):
                self._send(conn, codec.reply(f"+OK Job-UUID: {job_uuid}", {"Job-UUID": job_uuid}))
                gevent.spawn(self._job_done, conn, line, job_uuid, result)
            case Silent():
                pass
            case Drop():
                _hang_up(conn)
                return False
        return True

    def _job_done(self, conn: PeerConnection, line: str, job_uuid: str, result: str | AsyncResult) -> None:
        body = result.get() if isinstance(result, AsyncResult) else result
        headers = {"Event-Name": "BACKGROUND_JOB", "Job-UUID": job_uuid, "Job-Command": line.split()[1]}
        with contextlib.suppress(OSError):
            self._send(conn, codec.event_json(headers, body))


class CallSwitch:
    """FreeSWITCH's side of one call's outbound socket.

    Applications complete at once, except the hold music, which plays until ``uuid_break``;
    ``play_and_get_digits`` returns the next of :attr:`keys`; ``uuid_bridge`` is followed by the
    caller's CHANNEL_BRIDGE. :attr:`log` has what the call was told: ``answer``, ``playback <file>``,
    ``api uuid_break <uuid> all``, ``hangup <cause>``..."""

    def __init__(self, sock: socket.socket, caller: str = CALLER, *, refuse: str = "") -> None:
        self.peer = PeerConnection(sock)
        self.caller, self.refuse = caller, refuse
        self.log: list[str] = []
        self.keys: list[str] = []
        self.playing: dict[str, str] = {}  # Event-UUID -> app of what plays until uuid_break
        self.told: Queue = Queue()
        self.gone = False
        self._server = gevent.spawn(self._serve)

    @classmethod
    def pair(cls, caller: str = CALLER, *, refuse: str = "") -> tuple[OutboundCall, CallSwitch]:
        """hotline's end of a call's socket (handshake done) and FreeSWITCH's end."""
        ours, theirs = socket.socketpair()
        call = OutboundCall(ours, timeout=2)
        switch = cls(theirs, caller, refuse=refuse)
        call.start()
        call.handshake(2)
        return call, switch

    @classmethod
    def dial(cls, port: int, caller: str = CALLER) -> CallSwitch:
        """FreeSWITCH hands a call to hotline's outbound-socket server on ``port``."""
        return cls(socket.create_connection(("127.0.0.1", port)), caller)

    def close(self) -> None:
        self.peer.close()

    def send(self, data: bytes) -> None:
        with contextlib.suppress(OSError):
            self.peer.send(data)

    def event(self, name: str, **headers: str) -> None:
        self.send(codec.event_json({"Event-Name": name, "Unique-ID": CALL, **headers}))

    def press(self, digit: str) -> None:
        self.event("DTMF", **{"DTMF-Digit": digit})

    def hang_up(self, cause: str = "NORMAL_CLEARING") -> None:
        """The caller hangs up: CHANNEL_HANGUP, then the lingering socket's disconnect notice."""
        if self.gone:
            return
        self.gone = True
        self.event("CHANNEL_HANGUP", **{"Hangup-Cause": cause})
        self.send(codec.disconnect_notice({"Controlled-Session-UUID": CALL, "Content-Disposition": "linger"}))

    def wait_told(self, entry: str, timeout: float = 5.0) -> None:
        with gevent.Timeout(timeout, AssertionError(f"FreeSWITCH was not told {entry!r}; log: {self.log}")):
            while self.told.get() != entry:
                pass

    def _tell(self, entry: str) -> None:
        self.log.append(entry)
        self.told.put(entry)

    def _complete(self, app: str, event_uuid: str, **variables: str) -> None:
        headers = {"Application": app, "Application-UUID": event_uuid, "Application-Response": "FILE PLAYED"}
        self.event("CHANNEL_EXECUTE_COMPLETE", **headers, **{f"variable_{k}": v for k, v in variables.items()})

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while raw := self.peer.read_command():
                line, *rest = raw.split("\n")
                headers = dict(h.split(": ", 1) for h in rest if ": " in h)
                if line == "connect":
                    data = {"Unique-ID": CALL, "Caller-Caller-ID-Number": self.caller}
                    self.send(codec.channel_data_reply({**data, "Caller-Destination-Number": "4000"}))
                elif line in ("myevents", "linger", "exit") or line.startswith("nixevent "):
                    self.send(codec.reply("+OK"))
                elif line.startswith("api "):
                    self._api(line)
                elif headers.get("call-command") == "hangup":
                    self._tell(f"hangup {headers['hangup-cause']}")
                    self.send(codec.reply("+OK"))
                    self.hang_up(headers["hangup-cause"])
                elif headers.get("call-command") == "execute":
                    self._execute(
                        headers["execute-app-name"], headers.get("execute-app-arg", ""), headers["Event-UUID"]
                    )

    def _api(self, line: str) -> None:
        self._tell(line)
        if self.gone:
            self.send(codec.api_response("-ERR No such channel!\n"))
            return
        self.send(codec.api_response("+OK\n"))
        if line.startswith("api uuid_break "):
            for event_uuid, app in list(self.playing.items()):
                del self.playing[event_uuid]
                self._complete(app, event_uuid)
        elif line.startswith("api uuid_bridge "):
            self.event("CHANNEL_BRIDGE", **{"Other-Leg-Unique-ID": line.split()[-1]})

    def _execute(self, app: str, arg: str, event_uuid: str) -> None:
        self._tell(f"{app} {arg}".strip())
        if self.gone or app == self.refuse:
            self.send(codec.reply(f"-ERR {app} refused"))
            return
        self.send(codec.reply("+OK"))
        if app == "playback" and arg == MOH:
            self.playing[event_uuid] = app
        elif app == "play_and_get_digits":
            self._complete(app, event_uuid, hotline_digits=self.keys.pop(0) if self.keys else "")
        elif app == "record":
            self._complete(app, event_uuid, record_seconds="4")
        else:
            self._complete(app, event_uuid)


def _hang_up(conn: PeerConnection) -> None:
    """Close the socket for real (the server still holds a reference): the client reads EOF."""
    with contextlib.suppress(OSError):
        conn.sock.shutdown(socket.SHUT_RDWR)
    conn.close()


def wait_until(condition: Callable[[], object], timeout: float = 5.0, what: str = "condition") -> object:
    """Poll ``condition`` until it is truthy (a deadline, not a sleep); fail after ``timeout`` s."""
    with gevent.Timeout(timeout, AssertionError(f"timed out waiting for {what}")):
        while not (result := condition()):
            gevent.sleep(0.002)
    return result

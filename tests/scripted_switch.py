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
from tests.scripted_peer import PeerConnection, ScriptedPeer, auth_ok

PASSWORD = "pw"


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

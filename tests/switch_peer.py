"""A scripted FreeSWITCH for the runtime modules' own tests: each test says how 'FreeSWITCH' answers.

:class:`Switch` listens like FreeSWITCH's event socket (a :class:`~tests.scripted_peer.ScriptedPeer`):
a real :class:`~engine.transport.InboundClient` authenticates, subscribes, and sends ``api``/``bgapi``
commands; :meth:`Switch.outbound_call` hands a real :class:`~engine.transport.OutboundCall` over a
socket pair, as FreeSWITCH's ``socket`` application does. Every command is kept in
:attr:`Switch.commands` in the order it arrived (``api uuid_kill L``, ``bgapi originate ...``,
``execute playback /x.wav``). Replies follow rules (:meth:`Switch.on`, :meth:`Switch.on_execute`):
a text (``-ERR ...`` for a refusal), :data:`HOLD` (the reply or result waits for :meth:`Switch.finish`)
or :data:`SILENT` (never answered: the command times out). Events are sent with :meth:`Switch.event`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import gevent
from gevent import socket
from gevent.lock import Semaphore

from engine.esl import codec
from engine.metrics import Metrics
from engine.transport import InboundClient, OutboundCall
from tests.scripted_peer import PeerConnection, ScriptedPeer, auth_ok

HOLD = "<hold>"
"""Rule reply: keep the command's reply (api) or result (bgapi, execute) until :meth:`Switch.finish`."""
SILENT = "<silent>"
"""Rule reply: never answer (the caller's timeout decides)."""
GONE = "<gone>"
"""Execute rule: the channel hangs up while the application runs (disconnect notice, no completion)."""

Reply = str | Callable[[str], str]
ExecReply = Mapping[str, str] | str | Callable[[str], Mapping[str, str] | str]


def wait_until(condition: Callable[[], Any], timeout: float = 3.0, what: str = "condition") -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
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


class Switch:
    """FreeSWITCH as the test scripts it (see the module's notes)."""

    def __init__(self) -> None:
        self.commands: list[str] = []
        self._rules: list[tuple[str, Reply]] = []
        self._exec_rules: list[tuple[str, ExecReply]] = []
        self._held: list[_Held] = []
        self._sides: list[_Side] = []
        self._peer = ScriptedPeer(self._inbound)
        self.port = self._peer.start()
        self._clients: list[InboundClient] = []
        self._greenlets: list[gevent.Greenlet] = []

    # ---- scripting ---------------------------------------------------------------------------

    def on(self, prefix: str, reply: Reply) -> None:
        """Answer commands starting with ``prefix`` (``api uuid_kill``, ``bgapi originate``) with
        ``reply``; the latest matching rule wins. An api reply is its body; a bgapi reply is the
        BACKGROUND_JOB's body (``+OK <uuid>`` or ``-ERR NO_ANSWER``)."""
        self._rules.append((prefix, reply))

    def on_execute(self, app: str, reply: ExecReply) -> None:
        """Complete application ``app`` with these ``variable_*`` values (a mapping); or refuse it
        (``-ERR ...``), or GONE/HOLD/SILENT. A callable gets the application's argument."""
        self._exec_rules.append((app, reply))

    def event(self, name: str, unique_id: str, **headers: str) -> None:
        """Send an event (json, as hotline subscribes) on every connection; ``variable_x=...`` as headers."""
        data = codec.event_json({"Event-Name": name, "Unique-ID": unique_id, **headers})
        for side in list(self._sides):
            side.send(data)

    def hangup(self, unique_id: str, cause: str = "NORMAL_CLEARING", **headers: str) -> None:
        """CHANNEL_HANGUP_COMPLETE of a leg, as the dialler connection hears it."""
        self.event("CHANNEL_HANGUP_COMPLETE", unique_id, **{"Hangup-Cause": cause, **headers})

    def finish(self, prefix: str, reply: str, timeout: float = 3.0) -> str:
        """Send the held reply or result of the first held command starting with ``prefix``; its line."""
        held = wait_until(
            lambda: next((h for h in self._held if h.line.startswith(prefix)), None), timeout, f"held {prefix!r}"
        )
        self._held.remove(held)
        held.send(reply)
        return held.line

    def wait_command(self, prefix: str, timeout: float = 3.0) -> str:
        """The first command received starting with ``prefix`` (waits for it)."""
        return wait_until(
            lambda: next((c for c in self.commands if c.startswith(prefix)), None), timeout, f"command {prefix!r}"
        )

    def sent(self, prefix: str = "") -> list[str]:
        """Commands received so far that start with ``prefix``."""
        return [c for c in self.commands if c.startswith(prefix)]

    # ---- connections -------------------------------------------------------------------------

    def client(self, metrics: Metrics | None = None, *, timeout: float = 2.0) -> InboundClient:
        """A connected control client (hotline's InboundClient) to this switch."""
        client = InboundClient(
            "127.0.0.1", self.port, "pw", ["ALL"], metrics=metrics, timeout=timeout, backoff=(0.01, 0.05)
        )
        client.start(wait=3)
        self._clients.append(client)
        return client

    def outbound_call(
        self, channel: Mapping[str, str], metrics: Metrics | None = None, *, timeout: float = 2.0
    ) -> OutboundCall:
        """A call's outbound socket, handshaken, with the channel's data ``channel`` (``Unique-ID``...)."""
        ours, theirs = socket.socketpair()
        call = OutboundCall(ours, metrics=metrics, timeout=timeout)
        call.start()
        side = _Side(theirs)
        self._greenlets.append(gevent.spawn(self._outbound, side, dict(channel)))
        call.handshake(2.0)
        return call

    def close(self) -> None:
        for client in self._clients:
            client.stop()
        for side in self._sides:
            side.open = False
            side.sock.close()
        gevent.killall(self._greenlets, block=False)
        self._peer.stop()

    # ---- the FreeSWITCH side -----------------------------------------------------------------

    def _inbound(self, conn: PeerConnection) -> None:
        if not auth_ok(conn):
            return
        self._serve(_Side(conn.sock), None)

    def _outbound(self, side: _Side, channel: dict[str, str]) -> None:
        self._serve(side, channel)

    def _serve(self, side: _Side, channel: dict[str, str] | None) -> None:
        self._sides.append(side)
        parser = codec.CommandParser()
        try:
            while True:
                data = side.sock.recv(65536)
                if not data:
                    return
                for command in parser.feed(data):
                    assert isinstance(command, codec.Command), command
                    self._answer(side, command, channel)
        except OSError:
            return
        finally:
            side.open = False
            if side in self._sides:
                self._sides.remove(side)

    def _rule(self, line: str) -> Reply | None:
        return next((reply for prefix, reply in reversed(self._rules) if line.startswith(prefix)), None)

    def _answer(self, side: _Side, command: codec.Command, channel: dict[str, str] | None) -> None:
        line = command.line
        if line == "connect" and channel is not None:
            side.send(codec.channel_data_reply(channel))
        elif line in ("myevents", "linger") or line.startswith(("event ", "nixevent ")):
            side.send(codec.reply("+OK"))
        elif line == "exit":
            side.send(codec.reply("+OK bye"))
        elif line.startswith("api "):
            self.commands.append(line)
            self._reply(line, lambda text: side.send(codec.api_response(text)), self._rule(line) or "+OK\n")
        elif line.startswith("bgapi "):
            self.commands.append(line)
            job = command.headers.get("Job-UUID") or str(uuid.uuid4())
            reply = self._rule(line) or f"+OK {originate_uuid(line) or job}\n"
            if reply == SILENT:
                return
            side.send(codec.reply(f"+OK Job-UUID: {job}", {"Job-UUID": job}))
            self._reply(line, lambda text: side.send(_job_event(job, text)), reply)
        elif line.startswith("sendmsg"):
            self._sendmsg(side, command)
        else:
            side.send(codec.reply(f"-ERR command not found: {line}"))

    def _reply(self, line: str, send: Callable[[str], None], reply: Reply) -> None:
        text = reply(line) if callable(reply) else reply
        if text == HOLD:
            self._held.append(_Held(line, send))
        elif text != SILENT:
            send(text)

    def _sendmsg(self, side: _Side, command: codec.Command) -> None:
        headers = command.headers
        if headers.get("call-command") == "hangup":
            self.commands.append(f"hangup {headers.get('hangup-cause', '')}")
            side.send(codec.reply("+OK"))
            return
        app, arg = headers.get("execute-app-name", ""), headers.get("execute-app-arg", "")
        line = f"execute {app} {arg}".rstrip()
        self.commands.append(line)
        reply: ExecReply = next((r for name, r in reversed(self._exec_rules) if name == app), {})
        result = reply(arg) if callable(reply) else reply
        if isinstance(result, str) and result.startswith("-ERR"):
            side.send(codec.reply(result))
            return
        side.send(codec.reply("+OK"))
        if result == GONE:
            side.send(codec.disconnect_notice())
            return

        def complete(variables: Mapping[str, str] | str) -> None:
            extra = {f"variable_{k}": v for k, v in (variables if isinstance(variables, Mapping) else {}).items()}
            side.send(
                codec.event_json(
                    {
                        "Event-Name": "CHANNEL_EXECUTE_COMPLETE",
                        "Application": app,
                        "Application-Data": arg,
                        "Application-UUID": headers.get("Event-UUID", ""),
                        **extra,
                    }
                )
            )

        if result == HOLD:
            self._held.append(_Held(line, complete))  # finish(prefix, "") completes it with no variables
        elif result != SILENT:
            complete(result)


def _job_event(job: str, body: str) -> bytes:
    return codec.event_json({"Event-Name": "BACKGROUND_JOB", "Job-UUID": job}, body)


@contextmanager
def switch() -> Iterator[Switch]:
    """A started :class:`Switch`, closed afterwards."""
    peer = Switch()
    try:
        yield peer
    finally:
        peer.close()

"""The outbound-socket server: FreeSWITCH's ``socket host:port async full`` hands each call here.

Each accepted connection becomes an :class:`OutboundCall`: ``connect`` (the channel's data),
``myevents`` and ``linger`` are sent first, so the call's own events arrive and the socket stays
open after hangup long enough to read CHANNEL_HANGUP_COMPLETE. The call handler then runs in the
connection's greenlet; whatever it raises is logged and the channel is hung up, never leaked.

greenswitch's ``OutboundESLServer`` is not used: it exits the process when the port is taken and
polls ``accept`` every 100 ms. gevent's ``StreamServer`` accepts as connections arrive.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from gevent import socket
from gevent.event import Event
from gevent.server import StreamServer

from engine.esl import codec
from engine.metrics import Metrics
from engine.transport.connection import Connection, ESLError

log = logging.getLogger(__name__)


class OutboundCall(Connection):
    """One call's outbound socket: the channel's data and control of that channel."""

    def __init__(self, sock: socket.socket, *, metrics: Metrics | None = None, timeout: float = 5.0) -> None:
        super().__init__(sock, name="outbound", metrics=metrics, timeout=timeout)
        self.channel: dict[str, str] = {}
        self.hungup = Event()
        self.hangup_cause = ""
        self.register_handle("CHANNEL_HANGUP", self._on_hangup)
        self.register_handle("CONNECTION_CLOSED", self._on_hangup)

    def _on_hangup(self, event: codec.Event) -> None:
        if event.name == "CHANNEL_HANGUP" and event.uuid != self.uuid:
            return
        self.hangup_cause = self.hangup_cause or event.get("Hangup-Cause")
        self.hungup.set()

    def handshake(self) -> None:
        """``connect``, ``myevents``, ``linger``: afterwards the channel's data is in ``channel``."""
        reply = self.send_frame(codec.command("connect"))
        self.channel = reply.headers
        self.name = f"call {self.uuid}"
        self.send_frame(codec.command("myevents"))
        self.send_frame(codec.command("linger"))

    @property
    def uuid(self) -> str:
        return self.channel.get("Unique-ID", "")

    @property
    def caller_number(self) -> str:
        return self.channel.get("Caller-Caller-ID-Number", "")

    @property
    def caller_name(self) -> str:
        return self.channel.get("Caller-Caller-ID-Name", "")

    @property
    def destination(self) -> str:
        return self.channel.get("Caller-Destination-Number", "")

    def variable(self, name: str) -> str:
        return self.channel.get(f"variable_{name}", "")

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        """Hang the channel up (no-op when it already has)."""
        if self.hungup.is_set() or not self.connected:
            return
        try:
            self.send_frame(codec.hangup(cause))
        except ESLError as exc:
            log.info("%s: hangup not sent: %s", self.name, exc)


CallHandler = Callable[[OutboundCall], None]


class OutboundServer:
    """Accepts FreeSWITCH's outbound-socket connections and runs ``handler`` for each call."""

    def __init__(
        self, host: str, port: int, handler: CallHandler, *, metrics: Metrics | None = None, timeout: float = 5.0
    ) -> None:
        self.handler = handler
        self.metrics = metrics
        self.timeout = timeout
        self._server = StreamServer((host, port), self._accept)
        self.active: set[OutboundCall] = set()

    def start(self) -> int:
        """Bind and accept in the background; returns the bound port (``port=0`` picks one)."""
        self._server.start()
        return self._server.server_port

    def _accept(self, sock: socket.socket, address: tuple[str, int]) -> None:
        call = OutboundCall(sock, metrics=self.metrics, timeout=self.timeout)
        call.start()
        self.active.add(call)
        try:
            try:
                call.handshake()
            except ESLError:
                if self.metrics:  # the caller hung up before FreeSWITCH handed the call over: nothing to record
                    self.metrics.handshake_failures.inc()
                raise
            self.handler(call)
        except ESLError as exc:
            log.info("%s: ended: %s", call.name, exc)
        except Exception:
            log.exception("%s: call handler failed; hanging up", call.name)
            call.hangup("TEMPORARY_FAILURE")
        finally:
            self.active.discard(call)
            call.close()

    def stop(self) -> None:
        self._server.stop(timeout=1)

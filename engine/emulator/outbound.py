"""The ``socket host:port async full`` application: FreeSWITCH connecting out to hotline for one call."""

from __future__ import annotations

import gevent
import gevent.socket

from engine.emulator.channel import Channel
from engine.emulator.commands import Commands
from engine.emulator.connection import Connection
from engine.emulator.switch import Switch

CONNECT_TIMEOUT = 5.0


class OutboundSocket:
    """Runs the socket app; when the target refuses, plays ``fallback`` instead (never dead air)."""

    def __init__(self, switch: Switch, commands: Commands, fallback: list[tuple[str, str]]) -> None:
        self.switch = switch
        self.commands = commands
        self.fallback = fallback
        self.connections: set[Connection] = set()

    def __call__(self, ch: Channel, arg: str) -> None:
        target = arg.split()[0] if arg.split() else ""
        host, _, port = target.rpartition(":")
        ch.variables["socket_host"] = host
        try:
            sock = gevent.socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT)
        except (OSError, ValueError):
            self._fallback(ch)
            return
        sock.settimeout(None)
        conn = Connection(self.switch, self.commands, sock, channel=ch)
        self.connections.add(conn)
        reader = gevent.spawn(conn.serve)
        reader.link(lambda _: self.connections.discard(conn))
        gevent.wait([conn.first_message, conn.closed, ch.dead], count=1)
        if not ch.alive:
            return
        if conn.closed.is_set() and not (conn.first_message.is_set() or conn.resume):
            ch.park()  # closed before taking the call without ``resume``: FreeSWITCH leaves it in socket too
        elif not conn.closed.is_set():
            ch.park(until=conn.closed)  # the listener gone: the park ends, the dialplan goes on

    def _fallback(self, ch: Channel) -> None:
        """The emulator's stand-in for the steps after ``socket`` in a dialplan without them (an XML
        dialplan has its own: then ``fallback`` is empty)."""
        for app, app_arg in self.fallback:
            if not ch.alive:
                return
            ch.execute(app, app_arg.replace("${uuid}", ch.uuid))

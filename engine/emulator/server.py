"""The inbound event socket: a gevent StreamServer handing each client to a :class:`Connection`."""

from __future__ import annotations

import gevent.server
import gevent.socket

from engine.emulator.commands import Commands
from engine.emulator.connection import Connection
from engine.emulator.switch import Switch


class InboundServer:
    """Listens like mod_event_socket on ``host:port`` and authenticates with ``password``."""

    def __init__(self, switch: Switch, commands: Commands, password: str, host: str, port: int) -> None:
        self.switch = switch
        self.commands = commands
        self.password = password
        self.connections: set[Connection] = set()
        self._server = gevent.server.StreamServer((host, port), self._handle)

    def start(self) -> int:
        self._server.start()
        return int(self._server.server_port)

    def stop(self) -> None:
        self._server.stop(timeout=1)
        self.drop()

    def drop(self) -> None:
        for conn in list(self.connections):
            conn.abort()

    def _handle(self, sock: gevent.socket.socket, _address: tuple[str, int]) -> None:
        conn = Connection(self.switch, self.commands, sock, password=self.password)
        self.connections.add(conn)
        try:
            conn.serve()
        finally:
            self.connections.discard(conn)

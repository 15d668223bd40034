"""A scripted ESL peer for transport tests: each test says what the 'FreeSWITCH' side does."""

from __future__ import annotations

from collections.abc import Callable

from gevent import socket
from gevent.queue import Queue
from gevent.server import StreamServer

from engine.esl import codec


class PeerConnection:
    """The server side of one accepted connection, read with the codec."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_command(self) -> str:
        """The next command the client sent (its text up to the blank line), '' on close."""
        while b"\n\n" not in self._buf:
            data = self.sock.recv(65536)
            if not data:
                return ""
            self._buf += data
        raw, self._buf = self._buf.split(b"\n\n", 1)
        return raw.decode()

    def close(self) -> None:
        self.sock.close()


class ScriptedPeer:
    """A TCP server on an ephemeral port; ``script(conn)`` plays FreeSWITCH on each connection."""

    def __init__(self, script: Callable[[PeerConnection], None]) -> None:
        self.script = script
        self.accepted: Queue = Queue()
        self._server = StreamServer(("127.0.0.1", 0), self._handle)

    def _handle(self, sock: socket.socket, _address: tuple[str, int]) -> None:
        conn = PeerConnection(sock)
        self.accepted.put(conn)
        try:
            self.script(conn)
        finally:
            conn.close()

    def start(self) -> int:
        self._server.start()
        return self._server.server_port

    def stop(self) -> None:
        self._server.stop(timeout=0.5)


def auth_ok(conn: PeerConnection, password: str = "pw") -> bool:
    """Greeting and password check, as FreeSWITCH does them (transcripts 01 and 02)."""
    conn.send(codec.auth_request())
    if conn.read_command() != f"auth {password}":
        conn.send(codec.reply("-ERR invalid"))
        conn.send(codec.disconnect_notice())
        return False
    conn.send(codec.reply("+OK accepted"))
    return True

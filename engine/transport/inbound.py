"""The inbound control connection to FreeSWITCH, kept up for the life of the engine.

It authenticates, subscribes (in plain: decoded lazily, about 2.8x cheaper per event than json since
the read path was rewritten; bench/esl_read.py) to the events hotline needs, and when the connection drops (FreeSWITCH
restarted, network blip) reconnects with capped exponential backoff and subscribes again. Listeners
registered with :meth:`InboundClient.on_connected` run after every (re)connect, so the ACD can
reconcile calls in flight; event handlers are re-attached to every new connection.
"""

from __future__ import annotations

import contextlib
import logging
import random
import weakref
from collections.abc import Callable, Sequence

import gevent
from gevent import socket
from gevent.event import AsyncResult, Event

from engine.esl import codec
from engine.metrics import Metrics
from engine.transport.connection import (
    AuthenticationFailed,
    Connection,
    ConnectionLost,
    ESLError,
)

log = logging.getLogger(__name__)

EventHandler = Callable[[codec.Event], None]


RUNNING: weakref.WeakSet[InboundClient] = weakref.WeakSet()
"""Clients started and not stopped (the tests check that none outlives the test that started it)."""


class InboundClient:
    """A self-healing inbound ESL connection: ``api``/``bgapi`` go through whichever is current."""

    def __init__(
        self,
        host: str,
        port: int,
        password: str,
        events: list[str],
        *,
        metrics: Metrics | None = None,
        timeout: float = 5.0,
        backoff: tuple[float, float] = (0.05, 5.0),
        name: str = "control",
        limits: codec.Limits = codec.DEFAULT_LIMITS,
        filters: list[tuple[str, str]] | None = None,
        job_prefix: str | None = None,
    ) -> None:
        """``filters``: ``(header, value)`` pairs sent as ESL ``filter`` before subscribing, so FreeSWITCH
        sends only events that match one of them (:func:`engine.esl.codec.event_filter`). ``job_prefix``:
        this client's Job-UUIDs start with it (:func:`~engine.transport.connection.new_prefix`), so a filter
        can let its own BACKGROUND_JOB results through and no other connection's."""
        self.host, self.port, self.password = host, port, password
        self.events = events
        # each filter and how many of its users still need it, in the order added (sent again on a reconnect)
        self.filters: dict[tuple[str, str], int] = dict.fromkeys(filters or [], 1)
        self._filters_sent: set[tuple[str, str]] = set()  # what the newest connection was sent while set up
        self.job_prefix = job_prefix
        self.metrics = metrics
        self.timeout = timeout
        self.backoff = backoff
        self.name = name
        self.limits = limits
        self._conn: Connection | None = None
        self._handlers: list[tuple[str, EventHandler]] = []
        self._on_connected: list[Callable[[], None]] = []
        self._up = Event()
        self._first_attempt = Event()
        self._supervisor: gevent.Greenlet | None = None
        self._stopped = False
        self.last_error: Exception | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def on_event(self, name: str, handler: EventHandler) -> None:
        """Call ``handler`` for every event ``name`` (``*`` for all) on this and later connections."""
        self._handlers.append((name, handler))
        if self._conn:
            self._conn.register_handle(name, handler)

    def on_connected(self, callback: Callable[[], None]) -> None:
        self._on_connected.append(callback)

    def connect_once(self) -> Connection:
        """One attempt: TCP connect, wait for the greeting, authenticate, subscribe."""
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as exc:
            raise ConnectionLost(f"cannot reach FreeSWITCH event socket at {self.address}: {exc}") from exc
        sock.settimeout(None)
        conn = Connection(
            sock, name=f"{self.name}@{self.address}", metrics=self.metrics, timeout=self.timeout, limits=self.limits,
            **({"job_prefix": self.job_prefix} if self.job_prefix else {}),
        )  # fmt: skip
        conn.on_closed(lambda c: c._auth_request_event.set())  # a peer that closes or garbles is not waited for
        conn.start()
        try:
            if not conn._auth_request_event.wait(self.timeout) or not conn.connected:
                raise ConnectionLost(f"{self.address} sent no auth/request: is it a FreeSWITCH event socket?")
            reply = conn.send_frame(codec.auth(self.password))
            if not reply.ok:
                raise AuthenticationFailed(
                    f"FreeSWITCH at {self.address} refused the event-socket password ({reply.reply_text}); "
                    "set freeswitch.password in the hotline config to event_socket.conf.xml's password"
                )
            for name, handler in self._handlers:
                conn.register_handle(name, handler)
            self._filters_sent = self._send_filters(conn, set())
            reply = conn.send_frame(codec.event_subscribe("plain", self.events))
            if not reply.ok:
                raise ESLError(f"subscribing to events failed: {reply.reply_text}")
            if not conn.connected:  # e.g. a malformed frame right behind the subscribe reply
                raise ConnectionLost(f"{self.address} closed right after subscribing")
        except ESLError:
            conn.close()
            raise
        return conn

    def start(self, wait: float | None = None) -> None:
        """Connect in the background and keep connected; with ``wait``, block until first connect.

        Raises :class:`AuthenticationFailed` at once if the first attempt is refused for the password.
        """
        self._stopped = False
        self._supervisor = gevent.spawn(self._supervise)
        RUNNING.add(self)
        if wait is None:
            return
        self._first_attempt.wait(wait)
        if isinstance(self.last_error, AuthenticationFailed) and not self._up.is_set():
            self.stop()
            raise self.last_error
        if not self._up.wait(max(0.0, wait)):
            raise ConnectionLost(f"not connected to {self.address} after {wait:g} s: {self.last_error}")

    def _supervise(self) -> None:
        delay = self.backoff[0]
        while True:
            try:
                conn = self.connect_once()
            except ESLError as exc:
                self.last_error = exc
                self._first_attempt.set()
                log.warning("%s: %s; retrying in %.2f s", self.name, exc, delay)
                gevent.sleep(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2, self.backoff[1])
                continue
            delay = self.backoff[0]
            closed = Event()
            if self._conn is not None and self.metrics:
                self.metrics.esl_reconnects.labels(self.name).inc()
            self._conn = conn
            self.last_error = None
            self._set_up(True)
            try:  # filters added while this connection was being set up (add_filter only kept them)
                self._send_filters(conn, self._filters_sent)
            except ESLError as exc:
                log.warning("%s: %s", self.name, exc)
            conn.on_closed(lambda _c, closed=closed: (self._set_up(False), closed.set()))  # at once if closed
            self._first_attempt.set()
            log.info("%s: connected to %s", self.name, self.address)
            for callback in self._on_connected:
                gevent.spawn(callback)
            closed.wait()
            log.warning("%s: lost connection to %s", self.name, self.address)

    def _set_up(self, up: bool) -> None:
        if up:
            self._up.set()
        else:
            self._up.clear()
        if self.metrics:
            self.metrics.esl_connected.labels(self.name).set(1 if up else 0)

    @property
    def connected(self) -> bool:
        return self._up.is_set() and self._conn is not None and self._conn.connected

    def wait_connected(self, timeout: float) -> bool:
        return self._up.wait(timeout)

    @property
    def pending(self) -> int:
        """Commands sent on the current connection and not answered yet (0 when disconnected)."""
        return self._conn.pending if self._conn is not None and self._conn.connected else 0

    @property
    def reply_wait(self) -> float:
        """Seconds the oldest unanswered command on the current connection has waited (0.0 when none)."""
        return self._conn.reply_wait if self._conn is not None and self._conn.connected else 0.0

    def connection(self) -> Connection:
        """The current connection; :class:`ConnectionLost` while there is none."""
        if not self.connected or self._conn is None:
            raise ConnectionLost(f"not connected to FreeSWITCH at {self.address}")
        return self._conn

    def api(self, cmd: str, *args: str, timeout: float | None = None) -> str:
        return self.connection().api(cmd, *args, timeout=timeout)

    def apis(self, *commands: Sequence[str], timeout: float | None = None) -> list[str]:
        return self.connection().apis(*commands, timeout=timeout)

    def bgapi(self, cmd: str, *args: str, timeout: float | None = None) -> str:
        return self.connection().bgapi(cmd, *args, timeout=timeout)

    def execute_async(self, app: str, arg: str, *, uuid_: str) -> AsyncResult:
        """Start an application on channel ``uuid_`` (``sendmsg <uuid>``); the result is its completion."""
        return self.connection().execute_async(app, arg, uuid_=uuid_)

    def _send_filters(self, conn: Connection, done: set[tuple[str, str]]) -> set[tuple[str, str]]:
        """Send every filter not in ``done``, including any added meanwhile; the filters sent so far."""
        done = set(done)
        while todo := [f for f in self.filters if f not in done]:
            for header, value in todo:
                done.add((header, value))
                reply = conn.send_frame(codec.event_filter(header, value))
                if not reply.ok:
                    raise ESLError(f"event filter {header} {value} refused: {reply.reply_text}")
        return done

    def add_filter(self, header: str, value: str, *, wait: float | None = None) -> bool:
        """Let events whose ``header`` is ``value`` through from now on, on this connection and the next.

        Written without waiting for the reply: FreeSWITCH applies a connection's commands in order, so the filter
        is in force before any command written after it on this connection (a leg's originate), and no caller
        waits a round trip per leg on a busy switch. One refused is logged and dropped (the next connection would
        fail on it too); while disconnected it is only kept, for the next connection.

        With ``wait`` (seconds), for events another connection carries until now: True once FreeSWITCH
        accepted it, False when it did not within ``wait`` or there is no connection (it stays kept)."""
        frame = codec.event_filter(header, value)  # UnsafeValue for a header or value that is not one word
        self.filters[(header, value)] = self.filters.get((header, value), 0) + 1
        conn = self._conn
        if conn is None or not self.connected:
            return wait is None
        try:
            (waiter,), _ = conn.write_frames([frame])
        except ESLError:
            return wait is None  # lost meanwhile: the next connection is sent every kept filter
        waiter.rawlink(lambda result: self._filter_answered(header, value, result))
        if wait is None:
            return True
        try:
            return bool(waiter.get(timeout=wait).ok)
        except (gevent.Timeout, ESLError):
            return False

    def _filter_answered(self, header: str, value: str, result: AsyncResult) -> None:
        reply = result.value if result.successful() else None
        if reply is not None and not reply.ok:
            log.warning("%s: filter %s %s refused: %s", self.name, header, value, reply.reply_text)
            self.filters.pop((header, value), None)

    def remove_filter(self, header: str, value: str) -> None:
        """Undo :meth:`add_filter`, without waiting either (a filter left behind only lets a gone channel's
        events through). A filter added twice (two users of one channel's events) stays until both removed it:
        FreeSWITCH's ``filter delete`` removes every copy at once."""
        users = self.filters.get((header, value), 0)
        if users > 1:
            self.filters[(header, value)] = users - 1
            return
        self.filters.pop((header, value), None)
        conn = self._conn
        if conn is not None and self.connected:
            with contextlib.suppress(ESLError):
                conn.write_frames([codec.event_filter_delete(header, value)])

    @property
    def stopped(self) -> bool:
        """stop() was called: the client will not connect again."""
        return self._stopped

    def stop(self) -> None:
        self._stopped = True
        RUNNING.discard(self)
        if self._supervisor:
            self._supervisor.kill(block=True)
        if self._conn:
            self._conn.close()
        self._set_up(False)

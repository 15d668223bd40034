"""One ESL connection over gevent: greenswitch's protocol object with hotline's codec underneath.

greenswitch (``ESLProtocol``) keeps its event-handler registry and dispatch queue. What it gets
wrong for a contact centre is replaced here:

* frames are read with hotline's sans-IO codec (greenswitch reads line by line and URL-decodes
  whole bodies, corrupting ``api`` output that contains ``%``);
* every command has a timeout; replies are matched in order, and a reply that arrives after its
  command timed out is consumed and dropped so later replies stay aligned;
* ``bgapi`` results are matched by the Job-UUID hotline sends, registered before sending;
* ``execute`` completions are matched by Application-UUID (greenswitch matches by application
  name, so two ``playback`` in a row confuse it);
* everything pending fails at once with :class:`ConnectionLost` on disconnect;
* commands that need no answer in between go out in one write (:meth:`Connection.send_frames`):
  FreeSWITCH reads and answers a socket's commands one at a time, in order;
* Job-UUIDs and Event-UUIDs are UUID-shaped, unique per process and cheap (:func:`new_id`): a random
  prefix per process and a counter, instead of ``uuid4``'s system call per command;
* the events of one read go to the dispatcher as one batch, and the reader yields to it before
  reading again: handlers keep up with a burst instead of the whole burst being queued in memory;
* frames are bounded by the codec's :class:`~engine.esl.codec.Limits`; a malformed or oversized
  frame or event is counted (``hotline_esl_malformed_frames_total``), logged in one line and
  closes the connection: the stream cannot be trusted after it, and a closed connection is one the
  owner notices (the inbound client reconnects, an outbound call ends). The reader never dies
  with the connection still marked connected.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence

import gevent
from gevent import socket
from gevent.event import AsyncResult
from greenswitch import esl

from engine.esl import codec
from engine.metrics import Metrics

log = logging.getLogger(__name__)

#: Delivered to handlers as the last event of every connection.
CLOSED = codec.Event.of({"Event-Name": "CONNECTION_CLOSED"})


class ESLError(Exception):
    """Base of transport errors."""


class ConnectionLost(ESLError):
    """The connection closed while a command was pending, or before it was sent."""


class CommandTimeout(ESLError):
    """No reply within the command's timeout."""


class CommandFailed(ESLError):
    """FreeSWITCH answered ``-ERR``/``-USAGE``; the message is its text."""


class ChannelGone(ConnectionLost):
    """The call's channel hung up while an application was running on it."""


class AuthenticationFailed(ESLError):
    """FreeSWITCH refused the event-socket password."""


_ID_PREFIX = str(uuid.uuid4())[:24]  # "xxxxxxxx-xxxx-4xxx-yxxx-": random per process
_ID_COUNTER = itertools.count(1)


def new_id(prefix: str = _ID_PREFIX) -> str:
    """A UUID-shaped id (36 characters, as FreeSWITCH keeps a Job-UUID), unique within this process and,
    through its random prefix, across processes: for the Job-UUIDs and Event-UUIDs hotline sends.
    ``prefix`` (24 characters, :func:`new_prefix`) marks the ids of one client, e.g. for an event filter."""
    return f"{prefix}{next(_ID_COUNTER) & 0xFFFFFFFFFFFF:012x}"


def new_prefix() -> str:
    """A random prefix for :func:`new_id` (``xxxxxxxx-xxxx-4xxx-yxxx-``)."""
    return str(uuid.uuid4())[:24]


def _verb(data: bytes) -> str:
    words = data.split(b"\n", 1)[0].split(b" ", 2)
    name = b" ".join(words[:2]) if words[0] in (b"api", b"bgapi") and len(words) > 1 else words[0]
    return name.decode(errors="replace")


class Connection(esl.ESLProtocol):
    """A connected ESL socket (inbound to FreeSWITCH, or one accepted outbound-socket call)."""

    def __init__(
        self,
        sock: socket.socket,
        *,
        name: str,
        metrics: Metrics | None = None,
        timeout: float = 5.0,
        limits: codec.Limits = codec.DEFAULT_LIMITS,
        job_prefix: str = _ID_PREFIX,
    ) -> None:
        super().__init__()
        self.sock = sock
        self.job_prefix = job_prefix  # this connection's Job-UUIDs start with it
        self.name = name
        self.metrics = metrics
        self.timeout = timeout
        self.connected = True
        self.lingering = False
        self.channel_gone = False  # the disconnect notice came: no application can run on this socket's channel
        #: Why the peer's stream was refused (a malformed frame), once it has been.
        self.protocol_error = ""
        self.limits = limits
        self._parser = codec.FrameParser(limits)
        self._batch: list[codec.Event] = []  # events of the current read, not yet handed to the dispatcher
        self._replies: deque[tuple[AsyncResult, float]] = deque()  # awaiting a reply, and when written (perf_counter)
        self._jobs: dict[str, AsyncResult] = {}
        self._executions: dict[str, AsyncResult] = {}
        self._closed_callbacks: list[Callable[[Connection], None]] = []

    # ---- reading -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the reader and the event dispatcher greenlets."""
        self._receive_events_greenlet = gevent.spawn(self.receive_events)
        self._process_events_greenlet = gevent.spawn(self.process_events)

    def receive_events(self) -> None:
        reason = ""
        try:
            while self._run and self.connected:
                data = self.sock.recv(65536)
                if not data:
                    break
                try:
                    for item in self._parser.feed(data):
                        self._dispatch(item)
                finally:  # the events before a bad frame are still delivered, before CLOSED
                    self._flush()
                gevent.sleep(0)  # handlers run before the next read: a flood is never all held in memory
        except codec.ESLProtocolError as exc:
            reason = self._refuse(str(exc))
        except OSError as exc:
            if self.connected:  # not our own close (abort) waking the reader
                log.info("%s: read failed: %s", self.name, exc)
        except Exception as exc:  # a bug of ours, not the peer's: still never a dead reader on a live connection
            log.error("%s: reader failed, closing: %s: %s", self.name, type(exc).__name__, exc)
            reason = f"reader failed: {type(exc).__name__}"
        finally:
            self._lost(reason)

    def _refuse(self, reason: str) -> str:
        """Count and log (one line) a frame the codec refused; the caller then closes."""
        self.protocol_error = reason
        log.warning("%s: malformed frame from the peer, closing the connection: %s", self.name, reason)
        if self.metrics:
            self.metrics.esl_malformed.inc()
        return f"malformed frame ({reason})"

    def _flush(self) -> None:
        """Hand the events read so far to the dispatcher, as one batch.

        Called at the end of each read and before anyone waiting is woken (a reply, an application's
        completion, a job's result), so handlers see the events read before it first, as before batching.
        """
        if self._batch:
            self._esl_event_queue.put(self._batch)
            self._batch = []

    def _dispatch(self, item: codec.Frame | codec.MalformedFrame) -> None:
        """Deliver one frame; raises :class:`~engine.esl.codec.ESLProtocolError` for a bad one."""
        if isinstance(item, codec.MalformedFrame):
            raise codec.ESLProtocolError(f"{item.reason}: {item.raw[:80]!r}")
        ctype = item.content_type
        if ctype.startswith("text/event-"):  # the stream is nearly all events: tested first
            self._accept_event(codec.parse_event(item, self.limits))
        elif ctype in ("command/reply", "api/response"):
            self._flush()
            if self._replies:
                self._replies.popleft()[0].set(item)
            else:
                log.warning("%s: reply with no command pending: %r", self.name, item.reply_text)
        elif ctype == "auth/request":
            self._auth_request_event.set()
        elif ctype == "text/disconnect-notice":
            # FreeSWITCH sends this once the channel is gone: no application can complete after it.
            self.lingering = item.headers.get("Content-Disposition") == "linger"
            self.channel_gone = True
            self._flush()
            self._fail(self._executions, ChannelGone(f"{self.name}: the channel has hung up"))
            self._batch.append(codec.parse_event(item))
        elif ctype == "text/rude-rejection":
            log.error("%s: FreeSWITCH refused the connection (ACL): %s", self.name, item.body.strip())

    def _accept_event(self, event: codec.Event) -> None:
        """One event read: wake whoever waits on it, and queue it for the handlers."""
        self._match(event)
        self._batch.append(event)

    def _match(self, event: codec.Event) -> None:
        name = event.name
        if name == "BACKGROUND_JOB":
            waiter = self._jobs.pop(event.get("Job-UUID"), None)
            if waiter:
                self._flush()
                waiter.set(event.body)
        elif name == "CHANNEL_EXECUTE_COMPLETE":
            waiter = self._executions.pop(event.get("Application-UUID"), None)
            if waiter:
                self._flush()
                waiter.set(event)

    def _lost(self, reason: str = "") -> None:
        if not self.connected:
            return
        self.connected = False
        self._run = False
        error = ConnectionLost(f"{self.name}: connection closed" + (f": {reason}" if reason else ""))
        replies = {n: waiter for n, (waiter, _) in enumerate(self._replies)}
        self._replies.clear()
        for waiters in (replies, self._jobs, self._executions):
            self._fail(waiters, error)
        self._esl_event_queue.put((CLOSED,))
        for callback in self._closed_callbacks:
            callback(self)
        with contextlib.suppress(OSError):
            self.sock.close()

    @staticmethod
    def _fail(waiters: dict, error: Exception) -> None:
        pending = list(waiters.values())
        waiters.clear()
        for waiter in pending:
            waiter.set_exception(error)

    def process_events(self) -> None:
        """Deliver events to handlers in order, including those that arrive just before the close."""
        registry = self.event_handlers
        while True:
            batch: list[codec.Event] = self._esl_event_queue.get()  # every event of one read, in order
            for event in batch:
                named, every = registry.get(event.name), registry.get("*")
                for handler in named + every if named and every else named or every or ():
                    self._safe_exec_handler(handler, event)
                if event is CLOSED:
                    return

    @property
    def pending(self) -> int:
        """Commands sent and not answered yet (a ``bgapi`` counts until its reply, not its result)."""
        return len(self._replies)

    @property
    def reply_wait(self) -> float:
        """Seconds the oldest command still awaiting its reply has waited (0.0 with none): how far behind
        FreeSWITCH is on this connection, whatever the commands' timeouts."""
        return time.perf_counter() - self._replies[0][1] if self._replies else 0.0

    def on_closed(self, callback: Callable[[Connection], None]) -> None:
        """Call ``callback`` once the connection closes (at once if it already has)."""
        if self.connected:
            self._closed_callbacks.append(callback)
        else:
            callback(self)

    # ---- writing -----------------------------------------------------------------------------

    def send_frame(self, data: bytes, timeout: float | None = None) -> codec.Frame:
        """Send one command and wait for its reply (``command/reply`` or ``api/response``)."""
        return self.send_frames((data,), timeout)[0]

    def send_frames(self, frames: Sequence[bytes], timeout: float | None = None) -> list[codec.Frame]:
        """Send commands in one write and wait for their replies, in order; raises at the first that
        times out (the later replies are consumed and dropped when they come, as for any late reply)."""
        waiters, started = self.write_frames(frames)
        return [self.reply_to(data, waiter, started, timeout) for data, waiter in zip(frames, waiters, strict=True)]

    def write_frames(self, frames: Sequence[bytes]) -> tuple[list[AsyncResult], float]:
        """Send commands in one write; their replies will be set on the returned waiters, in order
        (read them with :meth:`reply_to`), with the time the write started."""
        if not self.connected:
            raise ConnectionLost(f"{self.name}: not connected")
        waiters = [AsyncResult() for _ in frames]
        started = time.perf_counter()
        self._replies.extend((waiter, started) for waiter in waiters)
        try:
            self.sock.sendall(frames[0] if len(frames) == 1 else b"".join(frames))
        except OSError as exc:
            self._lost()
            raise ConnectionLost(f"{self.name}: send failed: {exc}") from exc
        return waiters, started

    def reply_to(self, data: bytes, waiter: AsyncResult, started: float, timeout: float | None = None) -> codec.Frame:
        """Wait for the reply to command ``data`` written at ``started`` (timed and counted by its verb)."""
        limit = self.timeout if timeout is None else timeout
        try:
            frame = waiter.get(timeout=limit)
        except gevent.Timeout:
            if self.metrics:
                self.metrics.esl_timeouts.labels(_verb(data)).inc()
            raise CommandTimeout(f"{self.name}: no reply to {_verb(data)!r} within {limit:g} s") from None
        if self.metrics:
            self.metrics.esl_latency.labels(_verb(data)).observe(time.perf_counter() - started)
        return frame

    def send(self, data: str) -> codec.Frame:  # greenswitch's signature, used by its helpers
        return self.send_frame(codec.command(data))

    def api(self, cmd: str, *args: str, timeout: float | None = None) -> str:
        """Run an ``api`` command; returns its output, raises :class:`CommandFailed` on ``-ERR``.

        ``args`` are single words, checked by the codec (:func:`codec.command_line`).
        """
        return self.apis((cmd, *args), timeout=timeout)[0]

    def apis(self, *commands: Sequence[str], timeout: float | None = None) -> list[str]:
        """Run several ``api`` commands (each ``(cmd, *args)``) in one write, FreeSWITCH running them in order;
        their outputs, once all replied. Raises :class:`CommandFailed` for the first ``-ERR`` (the commands
        after it were run all the same)."""
        frames = self.send_frames([codec.api(*command) for command in commands], timeout)
        for frame in frames:
            if not frame.ok:
                raise CommandFailed(frame.body.strip())
        return [frame.body for frame in frames]

    def bgapi(self, cmd: str, *args: str, timeout: float | None = None) -> str:
        """Run a ``bgapi`` command and wait for its BACKGROUND_JOB result (raises on ``-ERR``)."""
        job = new_id(self.job_prefix)
        waiter: AsyncResult = AsyncResult()
        self._jobs[job] = waiter
        try:
            reply = self.send_frame(codec.bgapi(cmd, *args, job_uuid=job))
            if not reply.ok:
                raise CommandFailed(reply.reply_text)
            body = waiter.get(timeout=self.timeout if timeout is None else timeout)
        except gevent.Timeout:
            raise CommandTimeout(f"{self.name}: no BACKGROUND_JOB for {cmd.split(' ', 1)[0]!r}") from None
        finally:
            self._jobs.pop(job, None)
        if body.startswith("-"):
            raise CommandFailed(body.strip())
        return body

    def execute(self, app: str, arg: str = "", *, uuid_: str = "", timeout: float | None = None) -> codec.Event:
        """Execute a dialplan application and wait for its CHANNEL_EXECUTE_COMPLETE."""
        self._check_channel(app, uuid_)
        event_uuid = new_id()
        waiter: AsyncResult = AsyncResult()
        self._executions[event_uuid] = waiter
        try:
            reply = self.send_frame(codec.execute(app, arg, event_uuid=event_uuid, uuid=self._target(uuid_)))
            if not reply.ok:
                raise CommandFailed(f"{app}: {reply.reply_text}")
            return waiter.get(timeout=timeout)
        except gevent.Timeout:
            raise CommandTimeout(f"{self.name}: {app} did not complete within {timeout} s") from None
        finally:
            self._executions.pop(event_uuid, None)

    def execute_async(self, app: str, arg: str = "", *, uuid_: str = "") -> AsyncResult:
        """Start an application; the returned result is set with its CHANNEL_EXECUTE_COMPLETE."""
        return self.execute_all_async(((app, arg),), uuid_=uuid_)[0]

    def execute_all_async(self, steps: Sequence[tuple[str, str]], *, uuid_: str = "") -> list[AsyncResult]:
        """Queue applications ``(app, arg)`` on the channel in one write, in order (FreeSWITCH runs a
        channel's queued applications one after the other); each result is set with its completion.
        Raises :class:`CommandFailed` when FreeSWITCH refuses one (those before it stay queued)."""
        for app, _ in steps:
            self._check_channel(app, uuid_)
        ids = [new_id() for _ in steps]
        target = self._target(uuid_)
        frames = [codec.execute(app, arg, event_uuid=i, uuid=target) for (app, arg), i in zip(steps, ids, strict=True)]
        waiters: list[AsyncResult] = []
        for event_uuid in ids:
            waiters.append(AsyncResult())
            self._executions[event_uuid] = waiters[-1]
        try:
            replies = self.send_frames(frames)
        except BaseException:
            for event_uuid in ids:
                self._executions.pop(event_uuid, None)
            raise
        for (app, _), event_uuid, reply in zip(steps, ids, replies, strict=True):
            if not reply.ok:
                for later in ids[ids.index(event_uuid) :]:
                    self._executions.pop(later, None)
                raise CommandFailed(f"{app}: {reply.reply_text}")
        return waiters

    def _target(self, uuid_: str) -> str:
        """The channel a ``sendmsg`` names: ``uuid_``, or none (this socket's own channel)."""
        return uuid_

    def _check_channel(self, app: str, uuid_: str) -> None:
        """An application for this socket's own channel after its hangup would never complete: refuse it
        at once (the waiters registered before the notice are failed by the notice itself)."""
        if self.channel_gone and not uuid_:
            raise ChannelGone(f"{self.name}: {app}: the channel has hung up")

    def abort(self, reason: str) -> None:
        """Close at once, without the goodbye: for a peer that is not (or no longer) FreeSWITCH."""
        self._lost(reason)
        if self._receive_events_greenlet:
            self._receive_events_greenlet.kill(block=False)

    def close(self) -> None:
        """Say goodbye if still connected, then stop both greenlets."""
        if self.connected:
            with contextlib.suppress(ESLError):
                self.send_frame(codec.command("exit"), timeout=1.0)
        self._lost()
        if self._receive_events_greenlet:
            self._receive_events_greenlet.kill(block=False)

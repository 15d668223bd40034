"""The outbound-socket server: FreeSWITCH's ``socket host:port async full`` hands each call here.

Each accepted connection becomes an :class:`OutboundCall`: ``connect`` (the channel's data),
a filter on the channel's Unique-ID, ``event plain`` of the events a session reads, and ``linger`` are
sent first, so the call's own events arrive and the socket stays open after hangup until FreeSWITCH's
disconnect notice. The call handler then runs in the connection's greenlet; whatever it raises is
logged and the channel is hung up, never leaked.

The port is unauthenticated, so the server trusts no one: a connection from an address outside
``peers`` (``freeswitch.outbound_peers``, loopback by default) is closed at once, and one whose
reply to ``connect`` is not a channel's data within ``handshake_timeout`` seconds is closed too;
both are counted in ``hotline_outbound_refused_total{reason}``; FreeSWITCH is sent ``resume`` first,
so a call whose ``connect`` reply came too late goes on to the dialplan's fallback instead of staying
parked in ``socket``. Before the handshake, ``admit`` (admission control, engine/runtime/admission.py)
may turn a call away: ``resume`` and close, nothing read, so the fallback runs at once and the call
costs the engine no session. A malformed frame later in a call closes its socket without a hangup,
so FreeSWITCH's dialplan goes on after ``socket`` (the fallback) and the session records the call as
it records any lost socket.

greenswitch's ``OutboundESLServer`` is not used: it exits the process when the port is taken and
polls ``accept`` every 100 ms. gevent's ``StreamServer`` accepts as connections arrive.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from gevent import socket
from gevent.event import AsyncResult, Event
from gevent.server import StreamServer

from engine.esl import codec
from engine.metrics import Metrics
from engine.transport.connection import ChannelGone, CommandTimeout, Connection, ConnectionLost, ESLError

log = logging.getLogger(__name__)


LOOPBACK = ("127.0.0.0/8", "::1/128")

#: The events a call session reads (applications' completions, its hang-up, bridge, keys and speech), of
#: its own channel only: ``filter Unique-ID <uuid>`` first, then ``event plain`` of these. Not ``myevents``:
#: that turns on 22 event types (then a 270-byte ``nixevent`` to turn 16 off again), and for every event of
#: those types on the whole switch each ``myevents`` listener scans all ~250 headers for a Job-Owner-UUID
#: (mod_event_socket's event_handler): a cost that grows with live calls x event rate. FreeSWITCH reads a
#: socket's commands a byte at a time with a ``sched_yield`` after each, so every byte sent counts too.
SESSION_EVENTS = [
    "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_HANGUP",
    "CHANNEL_BRIDGE",
    "CHANNEL_UNBRIDGE",
    "DTMF",
    "DETECTED_SPEECH",
]


def session_commands(uuid: str) -> tuple[bytes, ...]:
    """What follows ``connect`` in one write: the channel's own events only, and ``linger``."""
    return (codec.event_filter("Unique-ID", uuid), codec.event_subscribe("plain", SESSION_EVENTS), LINGER)


CONNECT, LINGER = codec.command("connect"), codec.command("linger")


class NotFreeSwitch(ESLError):
    """The peer of an outbound socket did not start like FreeSWITCH."""


class Relay(Protocol):
    """An inbound connection that can carry a call's commands and events once its socket is released
    (:meth:`OutboundCall.release_socket`; the dialler's connection, engine/campaigns/legs.py)."""

    def follow(
        self, uuid: str, deliver: Callable[[codec.Event], None], gone: Callable[[], None], timeout: float
    ) -> bool: ...
    def unfollow(self, uuid: str) -> None: ...
    def recheck(self, uuid: str) -> None: ...
    def connection(self) -> Connection: ...


class OutboundCall(Connection):
    """One call's outbound socket: the channel's data and control of that channel."""

    def __init__(
        self,
        sock: socket.socket,
        *,
        metrics: Metrics | None = None,
        timeout: float = 5.0,
        limits: codec.Limits = codec.DEFAULT_LIMITS,
    ) -> None:
        super().__init__(sock, name="outbound", metrics=metrics, timeout=timeout, limits=limits)
        self.channel = codec.Frame()  # connect's reply: the channel's data, each header decoded when read
        self.uuid = ""  # the channel's Unique-ID, once connect's reply came (read on every event: kept)
        self.hungup = Event()
        self.hangup_cause = ""
        self._relay: Relay | None = None  # set by release_socket: commands and events go through it
        self._seen: set[str] = set()  # Event-Sequence of the events delivered since the release began
        self._finished = False
        self.register_handle("CHANNEL_HANGUP", self._on_hangup)
        self.register_handle("CHANNEL_HANGUP_COMPLETE", self._on_hangup)  # a released call's (the relay's)
        self.register_handle("CONNECTION_CLOSED", self._on_hangup)

    def _on_hangup(self, event: codec.Event) -> None:
        if event.name != "CONNECTION_CLOSED" and event.uuid != self.uuid:
            return
        self.hangup_cause = self.hangup_cause or event.get("Hangup-Cause")
        self._relayed_gone()
        self.hungup.set()

    # ---- releasing the socket while the call talks -------------------------------------------

    def release_socket(self, relay: Relay, timeout: float | None = None) -> bool:
        """Hand the call's commands and events over to ``relay`` and close the socket; False (nothing
        changed) when the call is over or ``relay`` could not take it within ``timeout``.

        FreeSWITCH runs a listener thread per outbound socket that wakes every 20 ms while idle: about
        1.1 ms of the switch's CPU per call-second (300 idle sockets took a third of a core), so a call
        that talks for minutes should not keep one. The channel is not touched: FreeSWITCH leaves a
        channel alone when its listener ends without ``resume``, and a bridge does not depend on the
        socket application (uuid_bridge ended it). Events read on both paths while the release is under
        way are delivered once (by Event-Sequence). An event FreeSWITCH queued for the socket just before
        the relay's filter took effect can be dropped with the listener (it sends its queue only between
        reads): the relay then asks whether the channel still exists (:meth:`Relay.recheck`), and a
        hangup missed that way still ends the call, its cause from CHANNEL_HANGUP_COMPLETE."""
        if self._relay is not None or self.hungup.is_set() or self.channel_gone or not self.connected:
            return False
        self._relay = relay
        if not relay.follow(self.uuid, self._relayed, self._relayed_gone, self.timeout if timeout is None else timeout):
            self._relay = None
            self._seen.clear()
            return False
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)  # FreeSWITCH's listener ends; it closes its side, our reader stops
        relay.recheck(self.uuid)
        return True

    @property
    def released(self) -> bool:
        return self._relay is not None

    def _relayed(self, event: codec.Event) -> None:
        self._accept_event(event)
        self._flush()

    def _relayed_gone(self) -> None:
        """The released channel is gone (its hangup, or FreeSWITCH no longer knows it): nothing waits on it."""
        if self._relay is None:
            return
        self.channel_gone = True
        self._fail(self._executions, ChannelGone(f"{self.name}: the channel has hung up"))
        self.hungup.set()

    def _accept_event(self, event: codec.Event) -> None:
        if self._relay is not None:
            sequence = event.get("Event-Sequence")
            if sequence:
                if sequence in self._seen:
                    return  # read on the socket and through the relay while the release was under way
                self._seen.add(sequence)
        super()._accept_event(event)

    def _dispatch(self, item: codec.Frame | codec.MalformedFrame) -> None:
        if self._relay is not None and isinstance(item, codec.Frame) and item.content_type == "text/disconnect-notice":
            return  # the listener's goodbye after release_socket: the channel lives on
        super()._dispatch(item)

    def _lost(self, reason: str = "") -> None:
        if self._relay is not None and not self._finished:  # the released socket closing: the call goes on
            with contextlib.suppress(OSError):
                self.sock.close()
            return
        super()._lost(reason)

    def write_frames(self, frames: Sequence[bytes]) -> tuple[list[AsyncResult], float]:
        if self._relay is None:
            return super().write_frames(frames)
        if not self.connected:
            raise ConnectionLost(f"{self.name}: not connected")
        return self._relay.connection().write_frames(frames)

    def _target(self, uuid_: str) -> str:
        return uuid_ or (self.uuid if self._relay is not None else "")

    def bgapi(self, cmd: str, *args: str, timeout: float | None = None) -> str:
        if self._relay is None:
            return super().bgapi(cmd, *args, timeout=timeout)
        return self._relay.connection().bgapi(cmd, *args, timeout=timeout)

    def handshake(self, timeout: float | None = None) -> None:
        """``connect``, then :func:`session_commands` in one write: afterwards the channel's data is in
        ``channel``.

        Raises :class:`NotFreeSwitch` when the reply to ``connect`` is not a channel's data within
        ``timeout`` seconds (or is malformed), or the subscription is not answered in that time (the call is
        handed back: FreeSWITCH's fallback runs), :class:`ConnectionLost` when the peer just left.
        """
        try:
            reply = self.send_frame(CONNECT, timeout)
        except CommandTimeout:
            raise NotFreeSwitch(f"no reply to connect within {timeout or self.timeout:g} s") from None
        except ConnectionLost:
            if self.protocol_error:
                raise NotFreeSwitch(self.protocol_error) from None
            raise
        if reply.content_type != "command/reply" or not reply.ok or not reply.get("Unique-ID"):
            raise NotFreeSwitch(f"reply to connect is not a channel's data: {reply.content_type!r}")
        self.channel = reply
        self.uuid = reply.get("Unique-ID", "")
        self.name = f"call {self.uuid}"
        try:
            self.send_frames(session_commands(self.uuid), timeout)  # in one write: FreeSWITCH answers them in order
        except CommandTimeout:  # a switch this slow gets the call back: its fallback runs, as for a late connect
            raise NotFreeSwitch(f"no reply to the event subscription within {timeout or self.timeout:g} s") from None

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

    def close(self) -> None:
        """Close; once the hangup and FreeSWITCH's disconnect notice came (the channel is gone, the socket
        only lingers for events no session reads), without the ``exit`` round trip: FreeSWITCH ends a
        lingering socket's listener when the socket closes. A released call stops following its channel."""
        if self._relay is not None:
            if not self._finished:
                self._finished = True
                self._relay.unfollow(self.uuid)
                self._lost()
            return
        if self.channel_gone and self.hungup.is_set():
            self.abort("")
            return
        super().close()

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        """Hang the channel up (no-op when it already has)."""
        if self.hungup.is_set() or not self.connected:
            return
        try:
            self.send_frame(codec.hangup(cause, self._target("")))
        except ESLError as exc:
            log.info("%s: hangup not sent: %s", self.name, exc)


CallHandler = Callable[[OutboundCall], None]


class Admit(Protocol):
    """Asked before each call's handshake: ``None`` takes the call, a reason turns it away (and counts
    it). Started and stopped with the server (engine.runtime.admission.Admission)."""

    def __call__(self) -> str | None: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...


class OutboundServer:
    """Accepts FreeSWITCH's outbound-socket connections and runs ``handler`` for each call."""

    def __init__(
        self,
        host: str,
        port: int,
        handler: CallHandler,
        *,
        metrics: Metrics | None = None,
        timeout: float = 5.0,
        peers: Sequence[str] = LOOPBACK,
        handshake_timeout: float = 5.0,
        limits: codec.Limits = codec.DEFAULT_LIMITS,
        admit: Admit | None = None,
    ) -> None:
        self.handler = handler
        self.admit = admit
        self.metrics = metrics
        self.timeout = timeout
        self.peers = [ipaddress.ip_network(peer, strict=False) for peer in peers]
        self.handshake_timeout = handshake_timeout
        self.limits = limits
        self._server = StreamServer((host, port), self._accept)
        self.active: set[OutboundCall] = set()

    def start(self) -> int:
        """Bind and accept in the background; returns the bound port (``port=0`` picks one)."""
        self._server.start()
        if self.admit is not None:
            self.admit.start()
        return self._server.server_port

    def allowed(self, host: str) -> bool:
        """Whether ``host`` (the peer's address as the socket reports it) is in ``peers``."""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address in network for network in self.peers)

    def _refuse(self, sock_or_call: socket.socket | OutboundCall, peer: str, reason: str, why: str) -> None:
        log.warning("outbound socket: refused %s: %s", peer, why)
        if self.metrics:
            self.metrics.outbound_refused.labels(reason).inc()
        if isinstance(sock_or_call, OutboundCall):
            sock_or_call.abort(why)
        else:
            sock_or_call.close()

    @staticmethod
    def _hand_back(sock: socket.socket) -> None:
        """Close the socket after ``resume``: without it FreeSWITCH leaves the channel parked in ``socket``
        (async mode) instead of going on with the dialplan; the reply is not waited for."""
        try:
            sock.sendall(codec.command("resume"))
        except OSError as exc:
            log.info("outbound socket: resume not sent: %s", exc)
        sock.close()

    def _accept(self, sock: socket.socket, address: tuple[str, int]) -> None:
        peer = str(address[0]) if address else "?"
        if not self.allowed(peer):
            self._refuse(sock, peer, "address", "address not in freeswitch.outbound_peers")
            return
        if self.admit is not None and self.admit() is not None:  # behind: FreeSWITCH's fallback takes it
            self._hand_back(sock)
            return
        call = OutboundCall(sock, metrics=self.metrics, timeout=self.timeout, limits=self.limits)
        call.start()
        self.active.add(call)
        try:
            try:
                call.handshake(self.handshake_timeout)
            except NotFreeSwitch as exc:  # FreeSWITCH too slow to answer `connect`, or not FreeSWITCH at all
                with contextlib.suppress(OSError):
                    call.sock.sendall(codec.command("resume"))  # the caller goes to the fallback, not parked
                self._refuse(call, peer, "handshake", f"handshake: {exc}")
                return
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

    def stop_accepting(self) -> None:
        """Close the listening socket (FreeSWITCH is refused: its dialplan's fallback runs); calls in
        progress go on."""
        self._server.close()

    def stop(self) -> None:
        if self.admit is not None:
            self.admit.stop()
        self._server.stop(timeout=1)

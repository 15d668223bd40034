"""The emulated switch core: channel registry, event bus, Event-Sequence, Core-UUID, scaled clock."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

import gevent
import gevent.event

from engine.esl.codec import Event

Pairs = list[tuple[str, str]]

# (file, function, line) FreeSWITCH 1.11.2 reports for each event it fires, as recorded.
CALLING: dict[str, tuple[str, str, int]] = {
    "BACKGROUND_JOB": ("mod_event_socket.c", "api_exec", 1580),
    "CHANNEL_ANSWER": ("switch_channel.c", "switch_channel_perform_mark_answered", 3848),
    "CHANNEL_BRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1689),
    "CHANNEL_CALLSTATE": ("switch_channel.c", "switch_channel_perform_set_callstate", 302),
    "CHANNEL_CREATE": ("switch_core_state_machine.c", "switch_core_session_run", 626),
    "CHANNEL_DATA": ("mod_event_socket.c", "parse_command", 2029),
    "CHANNEL_DESTROY": ("switch_core_session.c", "switch_core_session_perform_destroy", 1588),
    "CHANNEL_EXECUTE": ("switch_core_session.c", "switch_core_session_exec", 2949),
    "CHANNEL_EXECUTE_COMPLETE": ("switch_core_session.c", "switch_core_session_exec", 2972),
    "CHANNEL_HANGUP": ("switch_channel.c", "switch_channel_perform_hangup", 3447),
    "CHANNEL_HANGUP_COMPLETE": ("switch_core_state_machine.c", "switch_core_session_reporting_state", 943),
    "CHANNEL_PARK": ("switch_ivr.c", "switch_ivr_park", 1002),
    "CHANNEL_PROGRESS": ("switch_channel.c", "switch_channel_perform_mark_ring_ready_value", 3489),
    "CHANNEL_PROGRESS_MEDIA": ("switch_channel.c", "switch_channel_perform_mark_pre_answered", 3562),
    "CHANNEL_STATE": ("switch_channel.c", "switch_channel_perform_set_running_state", 2409),
    "CHANNEL_UNBRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1879),
    "CHANNEL_UNPARK": ("switch_ivr.c", "switch_ivr_park", 1213),
    "DTMF": ("switch_channel.c", "switch_channel_dequeue_dtmf", 678),
    "RECORD_START": ("switch_ivr_async.c", "record_callback", 1482),
    "RECORD_STOP": ("switch_ivr_async.c", "send_record_stop_event", 1241),
    "DETECTED_SPEECH": ("switch_ivr_async.c", "speech_thread", 4593),
    "CUSTOM": ("switch_ivr.c", "switch_ivr_eavesdrop_session", 2240),
    "CHANNEL_HOLD": ("switch_ivr.c", "switch_ivr_hold", 1558),
    "CHANNEL_UNHOLD": ("switch_ivr.c", "switch_ivr_unhold", 1638),
}


class Listener(Protocol):
    """Anything that receives fired events (an ESL connection)."""

    def deliver(self, event: Event) -> None: ...


def new_uuid() -> str:
    return str(uuid.uuid4())


class Switch:
    """State shared by every part of the emulator; one per :class:`~engine.emulator.Emulator`."""

    def __init__(self, *, time_scale: float = 1.0, hostname: str = "hotline-emu", keep_log: bool = True) -> None:
        """``keep_log=False`` (long demo runs) keeps no event history: ``wait_for`` is unavailable."""
        self._clock_offset_us = 0
        self.time_scale = time_scale
        self.keep_log = keep_log
        self.hostname = hostname
        self.ipv4 = "127.0.0.1"
        self.ipv6 = "::1"
        self.core_uuid = new_uuid()
        self.channels: dict[str, Any] = {}  # uuid -> Channel
        self.apps: dict[str, Callable[[Any, str], object]] = {}  # dialplan applications by name
        self.listeners: set[Listener] = set()
        self.log: list[Event] = []
        self.commands: list[Any] = []  # every client command received (codec.Command), when keep_log
        self.sessions_since_startup = 0
        self.media_in_bridge: list[tuple[str, str]] = []  # (uuid, application) run inside a bridge, over the partner
        self.peak_sessions = 0
        self.started_us = self.now_us()
        self.api_delay = 0.0
        # (command, argument, reply): api commands once answered, bgapi when received (reply None), when keep_log
        self.api_log: list[tuple[str, str, str | None]] = []
        self.hangup_hook: Callable[[Any], None] | None = None  # runs a channel's api_hangup_hook (hash_store.py)
        self.overload: Any = None  # engine.emulator.overload.Overload: the slow and lossy mode, when set
        self.api_open = gevent.event.Event()
        self.api_open.set()
        self._sequence = 0
        self._tick = gevent.event.Event()

    # ---- clock ------------------------------------------------------------------------------------

    def now_us(self) -> int:
        """Wall-clock microseconds (event timestamps are real time, only waits are scaled), plus any
        :meth:`advance`."""
        return time.time_ns() // 1000 + self._clock_offset_us

    def advance(self, seconds: float) -> None:
        """Move the switch's clock (event timestamps, channel times) ``seconds`` ahead at once: a test
        controls the time FreeSWITCH reports between two events without waiting for it."""
        if seconds < 0:
            raise ValueError(f"advance: seconds must not be negative, got {seconds}")
        self._clock_offset_us += round(seconds * 1e6)

    def scaled(self, seconds: float) -> float:
        return max(seconds, 0.0) * self.time_scale

    def sleep(self, seconds: float) -> None:
        gevent.sleep(self.scaled(seconds))

    # ---- events -----------------------------------------------------------------------------------

    def base_headers(self, name: str, now_us: int, calling: tuple[str, str, int] | None = None) -> Pairs:
        file, func, line = calling or CALLING.get(name, ("switch_event.c", "switch_event_fire", 0))
        self._sequence += 1
        local = time.localtime(now_us / 1e6)
        return [
            ("Event-Name", name),
            ("Core-UUID", self.core_uuid),
            ("FreeSWITCH-Hostname", self.hostname),
            ("FreeSWITCH-Switchname", self.hostname),
            ("FreeSWITCH-IPv4", self.ipv4),
            ("FreeSWITCH-IPv6", self.ipv6),
            ("Event-Date-Local", time.strftime("%Y-%m-%d %H:%M:%S", local)),
            ("Event-Date-GMT", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now_us / 1e6))),
            ("Event-Date-Timestamp", str(now_us)),
            ("Event-Calling-File", file),
            ("Event-Calling-Function", func),
            ("Event-Calling-Line-Number", str(line)),
            ("Event-Sequence", str(self._sequence)),
        ]

    def build(self, name: str, headers: Pairs, body: str = "", calling: tuple[str, str, int] | None = None) -> Event:
        """An event with the base headers FreeSWITCH puts first, not yet fired."""
        return Event.of(self.base_headers(name, self.now_us(), calling) + headers, body)

    def fire(self, name: str, headers: Pairs, body: str = "", calling: tuple[str, str, int] | None = None) -> Event:
        event = self.build(name, headers, body, calling)
        self.publish(event)
        return event

    def publish(self, event: Event) -> None:
        if self.keep_log:
            self.log.append(event)
        for listener in list(self.listeners):
            listener.deliver(event)
        tick, self._tick = self._tick, gevent.event.Event()
        tick.set()

    def poke(self) -> None:
        """Wake waiters after a change that fires no event."""
        tick, self._tick = self._tick, gevent.event.Event()
        tick.set()

    def wait_until(self, condition: Callable[[], object], timeout: float = 5.0) -> object:
        """Block until ``condition()`` is truthy (re-checked on every event); raise TimeoutError."""
        with gevent.Timeout(timeout, TimeoutError(f"condition not met within {timeout}s")):
            while True:
                tick = self._tick
                result = condition()
                if result:
                    return result
                tick.wait()

    def wait_for(self, predicate: Callable[[Event], bool], timeout: float = 5.0, since: int = 0) -> Event:
        """The first logged event from index ``since`` on that matches ``predicate``."""
        if not self.keep_log:
            raise RuntimeError("this emulator keeps no event log (keep_log=False)")
        pos = since

        def scan() -> Event | None:
            nonlocal pos
            while pos < len(self.log):
                event = self.log[pos]
                pos += 1
                if predicate(event):
                    return event
            return None

        return self.wait_until(scan, timeout)  # type: ignore[return-value]

    # ---- api gate (fault injection) ---------------------------------------------------------------

    def api_gate(self, name: str = "", arg: str = "", background: bool = False) -> None:
        """Hold an api/bgapi command while frozen, then apply the configured delay (and the overload
        mode's: a drawn delay, a late job, a caller who hangs up just before the command runs)."""
        self.api_open.wait()
        wait = self.api_delay + (self.overload.reply_wait(name, arg, background) if self.overload else 0.0)
        if wait:
            gevent.sleep(wait)
        if self.overload:
            self.overload.before(name, arg, self.channels)

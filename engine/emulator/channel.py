"""One emulated call leg: state machine, variables, answer/bridge/hangup, and the events it fires.

Every channel event is built by :meth:`Channel.event` so header names and order match FreeSWITCH:
base headers, event-specific leading headers, channel data, caller profile, other leg, event-specific
trailing headers, then ``variable_*``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import gevent
import gevent.event
import gevent.queue

from engine.emulator.media import write_wav
from engine.emulator.switch import Pairs, Switch, new_uuid
from engine.esl.codec import Event

STATES = [
    "CS_NEW",
    "CS_INIT",
    "CS_ROUTING",
    "CS_SOFT_EXECUTE",
    "CS_EXECUTE",
    "CS_EXCHANGE_MEDIA",
    "CS_PARK",
    "CS_CONSUME_MEDIA",
    "CS_HIBERNATE",
    "CS_RESET",
    "CS_HANGUP",
    "CS_REPORTING",
    "CS_DESTROY",
]
CALL_STATES = ["DOWN", "DIALING", "RINGING", "EARLY", "ACTIVE", "HELD", "RING_WAIT", "HANGUP", "UNHELD"]
Q850 = {
    "UNALLOCATED_NUMBER": 1,
    "NORMAL_CLEARING": 16,
    "USER_BUSY": 17,
    "NO_USER_RESPONSE": 18,
    "NO_ANSWER": 19,
    "SUBSCRIBER_ABSENT": 20,
    "CALL_REJECTED": 21,
    "DESTINATION_OUT_OF_ORDER": 27,
    "NORMAL_TEMPORARY_FAILURE": 41,
    "RECOVERY_ON_TIMER_EXPIRE": 102,
    "ORIGINATOR_CANCEL": 487,
    "USER_NOT_REGISTERED": 606,
    "MANAGER_REQUEST": 0,
}
NO_VARIABLES = {"CHANNEL_STATE", "CHANNEL_CALLSTATE", "DTMF"}
MARK_HOLD = ("switch_channel.c", "switch_channel_mark_hold", 875)


@dataclass
class Message:
    """Something queued to a channel's session: ``execute``, ``bridge`` (peer set), ``bridged``, ``wake``."""

    kind: str
    app: str = ""
    arg: str = ""
    app_uuid: str = ""
    peer: Channel | None = None
    done: gevent.event.AsyncResult = field(default_factory=gevent.event.AsyncResult)


def _stamp(us: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(us / 1e6)) if us else ""


class Channel:
    """A call leg living in the :class:`Switch`; its session greenlet runs apps and the hangup sequence."""

    def __init__(
        self,
        switch: Switch,
        *,
        name: str,
        direction: str,
        destination: str,
        cid_number: str = "0000000000",
        cid_name: str = "",
        callee_name: str = "",
        callee_number: str = "",
        source: str = "mod_loopback",
        context: str = "default",
        uuid: str | None = None,
        variables: dict[str, str] | None = None,
    ) -> None:
        self.switch = switch
        self.uuid = uuid or new_uuid()
        self.name = name
        self.direction = direction
        self.destination = destination
        self.cid_number = cid_number
        self.cid_name = cid_name
        self.orig_cid_number = cid_number
        self.callee_name = callee_name
        self.callee_number = callee_number
        self.source = source
        self.context = context
        self.hit_dialplan = direction == "inbound"
        self.state = "CS_NEW"
        self.running_state = "CS_NEW"
        self.callstate = "DOWN"
        self.answer_state = "ringing"
        self.hangup_cause = ""
        self.times = dict.fromkeys(
            ("created", "answered", "progress", "progress_media", "hangup", "bridged", "last_hold", "hold_accum"), 0
        )
        self.leg_holding = False  # CF_LEG_HOLDING: the SIP leg is on hold (callstate HELD)
        self.times["created"] = switch.now_us()
        switch.sessions_since_startup += 1
        self.variables: dict[str, str] = {
            "direction": direction,
            **({"is_outbound": "true"} if direction == "outbound" else {}),
            "uuid": self.uuid,
            "call_uuid": self.uuid,
            "session_id": str(switch.sessions_since_startup),
            "read_codec": "L16",
            "read_rate": "8000",
            "write_codec": "L16",
            "write_rate": "8000",
            "channel_name": name,
            **(variables or {}),
        }
        self.loopback_peer: Channel | None = None
        self.other: Channel | None = None  # the Other-Leg-* profile: bridge partner or originator
        self.other_type = ""
        self.bridged_to: Channel | None = None
        self.parked = False
        self.transfer_to: str | None = None  # uuid_transfer while running dialplan applications (CF_TRANSFER)
        self.expander: Callable[[str, dict[str, str]], str] | None = None  # ${var} in application data
        self._answering = False
        self.queue: gevent.queue.Queue[Message] = gevent.queue.Queue()
        self.dtmf: gevent.queue.Queue[str] = gevent.queue.Queue()
        self.dead = gevent.event.Event()
        self.gone = gevent.event.Event()
        self.answered = gevent.event.Event()
        self.interrupt = gevent.event.Event()
        self.unbridged = gevent.event.Event()
        self.bridge_over = gevent.event.Event()  # set when the bridge's loop has finished
        self.transferring = False  # taken out of a bridge by uuid_bridge/uuid_park: no after-bridge rule
        self.left_behind = False  # its partner was taken out of the bridge: the after-bridge rule applies
        self.execute_sent = gevent.event.Event()  # an application was queued (a bridge runs it, see bridge())
        self.recordings: dict[str, int] = {}
        self.script: Callable[[str], str] | None = None  # sim: answers collect/speech prompts
        self.on_bridge: Callable[[Channel], None] | None = None  # sim: starts talk timers
        self.session: gevent.Greenlet | None = None
        switch.channels[self.uuid] = self

    # ---- header building (one function for every channel event) -----------------------------------

    def _profile(self, prefix: str, with_index: bool) -> Pairs:
        t = self.times
        out: Pairs = [
            (f"{prefix}-Direction", self.direction),
            (f"{prefix}-Logical-Direction", self.direction),
            (f"{prefix}-Dialplan", "xml"),
        ]
        if self.cid_name:
            out.append((f"{prefix}-Caller-ID-Name", self.cid_name))
        out.append((f"{prefix}-Caller-ID-Number", self.cid_number))
        out.append((f"{prefix}-Orig-Caller-ID-Number", self.orig_cid_number))
        if self.callee_name:
            out.append((f"{prefix}-Callee-ID-Name", self.callee_name))
        if self.callee_number:
            out.append((f"{prefix}-Callee-ID-Number", self.callee_number))
        out += [
            (f"{prefix}-ANI", self.cid_number),
            (f"{prefix}-Destination-Number", self.destination),
            (f"{prefix}-Unique-ID", self.uuid),
            (f"{prefix}-Source", self.source),
            (f"{prefix}-Context", self.context),
            (f"{prefix}-Channel-Name", self.name),
        ]
        if with_index:
            out.append((f"{prefix}-Profile-Index", "1"))
        cp = f"{prefix}-Channel"
        out += [
            (f"{prefix}-Profile-Created-Time", str(t["created"])),
            (f"{cp}-Created-Time", str(t["created"])),
            (f"{cp}-Answered-Time", str(t["answered"])),
            (f"{cp}-Progress-Time", str(t["progress"])),
            (f"{cp}-Progress-Media-Time", str(t["progress_media"])),
            (f"{cp}-Hangup-Time", str(t["hangup"])),
            (f"{cp}-Transfer-Time", "0"),
            (f"{cp}-Resurrect-Time", "0"),
            (f"{cp}-Bridged-Time", str(t["bridged"])),
            (f"{cp}-Last-Hold", str(t["last_hold"])),
            (f"{cp}-Hold-Accum", str(t["hold_accum"])),
            (f"{prefix}-Screen-Bit", "true"),
            (f"{prefix}-Privacy-Hide-Name", "false"),
            (f"{prefix}-Privacy-Hide-Number", "false"),
        ]
        return out

    def channel_data(self) -> Pairs:
        """``switch_channel_event_set_data``: channel state, caller profile, other leg."""
        out: Pairs = [
            ("Channel-State", self.running_state),
            ("Channel-Call-State", self.callstate),
            ("Channel-State-Number", str(STATES.index(self.state))),
            ("Channel-Name", self.name),
            ("Unique-ID", self.uuid),
            ("Call-Direction", self.direction),
            ("Presence-Call-Direction", self.direction),
            ("Channel-HIT-Dialplan", "true" if self.hit_dialplan else "false"),
            ("Channel-Call-UUID", self.uuid),
            ("Answer-State", self.answer_state),
        ]
        if self.hangup_cause:
            out.append(("Hangup-Cause", self.hangup_cause))
        out += [
            ("Channel-Read-Codec-Name", "L16"),
            ("Channel-Read-Codec-Rate", "8000"),
            ("Channel-Read-Codec-Bit-Rate", "128000"),
            ("Channel-Write-Codec-Name", "L16"),
            ("Channel-Write-Codec-Rate", "8000"),
            ("Channel-Write-Codec-Bit-Rate", "128000"),
        ]
        out += self._profile("Caller", True)
        if self.other is not None:
            out.append(("Other-Type", self.other_type or "originatee"))
            out += self.other._profile("Other-Leg", False)
        return out

    def variable_pairs(self) -> Pairs:
        return [(f"variable_{k}", v) for k, v in self.variables.items()]

    def event(
        self,
        name: str,
        lead: Pairs | None = None,
        tail: Pairs | None = None,
        body: str = "",
        calling: tuple[str, str, int] | None = None,
    ) -> Event:
        """Fire a channel event: base, ``lead``, channel data, variables, ``tail`` (as FreeSWITCH orders them).
        ``calling`` overrides the (file, function, line) of events FreeSWITCH fires from more than one place."""
        lead, tail = lead or [], tail or []
        variables = [] if name in NO_VARIABLES else self.variable_pairs()
        return self.switch.fire(name, [*lead, *self.channel_data(), *variables, *tail], body, calling)

    def channel_data_event(self) -> Event:
        """The CHANNEL_DATA event sent as the reply to ``connect`` on an outbound socket."""
        headers = self._profile("Channel", True) + self.channel_data() + self.variable_pairs()
        return self.switch.build("CHANNEL_DATA", headers)

    # ---- state machine ----------------------------------------------------------------------------

    def go(self, state: str) -> None:
        """Enter ``state`` (running state too) and fire CHANNEL_STATE."""
        self.state = self.running_state = state
        self.event("CHANNEL_STATE")

    def set_callstate(self, callstate: str) -> None:
        original, self.callstate = self.callstate, callstate
        number = str(CALL_STATES.index(callstate))
        lead = [("Original-Channel-Call-State", original), ("Channel-Call-State-Number", number)]
        self.event("CHANNEL_CALLSTATE", lead)

    def flip_caller_id(self) -> None:
        """An originated leg that starts its own application shows the far end as its caller."""
        self.cid_name, self.cid_number = self.callee_name, self.callee_number
        self.callee_name, self.callee_number = "", self.orig_cid_number
        self.variables["channel_cid_flipped"] = "yes"

    def init(self, *, ring: bool) -> None:
        """CS_INIT, CHANNEL_CREATE, (RINGING), CS_ROUTING: what every new session goes through."""
        self.go("CS_INIT")
        self.state = "CS_ROUTING"
        self.event("CHANNEL_CREATE")
        if ring:
            self.running_state = "CS_ROUTING"
            self.set_callstate("RINGING")
        self.go("CS_ROUTING")

    @property
    def alive(self) -> bool:
        return not self.dead.is_set()

    def ring_ready(self) -> None:
        if self.times["progress"] or not self.alive:
            return
        self.times["progress"] = self.switch.now_us()
        self.event("CHANNEL_PROGRESS")
        if self.callstate != "RINGING":
            self.set_callstate("RINGING")

    def pre_answer(self) -> None:
        if self.times["progress_media"] or self.answered.is_set() or not self.alive:
            return
        self.times["progress_media"] = self.switch.now_us()
        self.answer_state = "early"
        self.event("CHANNEL_PROGRESS_MEDIA")
        self.set_callstate("EARLY")

    def answer(self) -> None:
        if self.answered.is_set() or not self.alive or self._answering:
            return
        self._answering = True
        if self.loopback_peer is not None:
            self.loopback_peer.answer()
        now = self.switch.now_us()
        self.times["answered"] = now
        self.variables.setdefault("answer_uepoch", str(now))
        self.answer_state = "answered"
        self.answered.set()
        self.event("CHANNEL_ANSWER")
        self.set_callstate("ACTIVE")

    def hangup(self, cause: str = "NORMAL_CLEARING") -> bool:
        """Mark the channel hung up (CHANNEL_HANGUP); its session then reports and destroys it."""
        if not self.alive:
            return False
        self.hangup_cause = cause
        self.state = "CS_HANGUP"
        self.answer_state = "hangup"
        self.times["hangup"] = self.switch.now_us()
        self.variables["hangup_cause"] = cause
        self.variables["hangup_cause_q850"] = str(Q850.get(cause, 0))
        self.event("CHANNEL_HANGUP")
        self.dead.set()
        self.interrupt.set()
        self.dtmf.put("\0")
        self.queue.put(Message("wake"))
        if self.session is None:
            self.session = gevent.spawn(self.finish)
        return True

    def finish(self) -> None:
        """The hangup sequence after the session's last app: CS_HANGUP .. CS_DESTROY."""
        if self.alive:
            self.hangup("NORMAL_CLEARING")
        self.go("CS_HANGUP")
        for path in list(self.recordings):  # media bugs (uuid_record, record_session) close at hangup
            self.stop_recording(path)
        self.set_callstate("HANGUP")
        peer = self.loopback_peer
        if peer is not None:
            peer.hangup(self.hangup_cause)
        self._cdr_variables()
        if self.switch.hangup_hook is not None:  # api_hangup_hook: after the hangup cause and times are set
            self.switch.hangup_hook(self)
        self.go("CS_REPORTING")
        self.event("CHANNEL_HANGUP_COMPLETE", lead=[("Hangup-Cause", self.hangup_cause)])
        self.switch.channels.pop(self.uuid, None)
        if peer is not None and self.variables.get("loopback_leg") == "B":
            peer.gone.wait()
        self.state = "CS_DESTROY"
        self.event("CHANNEL_DESTROY")
        self.go("CS_DESTROY")
        self.gone.set()

    def _cdr_variables(self) -> None:
        t, end = self.times, self.times["hangup"]
        start, answered = t["created"], t["answered"]
        bill = end - answered if answered else 0
        v = self.variables
        v["start_stamp"] = _stamp(start)
        if answered:
            v["answer_stamp"] = _stamp(answered)
        v["end_stamp"] = _stamp(end)
        for key, us in (
            ("start", start),
            ("answer", answered),
            ("bridge", t["bridged"]),
            ("progress", t["progress"]),
            ("progress_media", t["progress_media"]),
            ("end", end),
        ):
            v[f"{key}_epoch"] = str(us // 1_000_000)
            v[f"{key}_uepoch"] = str(us)
        wait = (answered or end) - start
        v.update(
            {
                "duration": str((end - start) // 1_000_000),
                "billsec": str(bill // 1_000_000),
                "answersec": str(wait // 1_000_000 if answered else 0),
                "waitsec": str(wait // 1_000_000 if answered else 0),
                "mduration": str((end - start) // 1000),
                "billmsec": str(bill // 1000),
                "uduration": str(end - start),
                "billusec": str(bill),
            }
        )

    # ---- session ----------------------------------------------------------------------------------

    def start(self, apps: list[tuple[str, str]], *, state: str = "CS_EXECUTE") -> None:
        """Spawn the session greenlet: run ``apps`` (the dialplan), then the hangup sequence."""
        self.session = gevent.spawn(self._run, apps, state)

    def _run(self, apps: list[tuple[str, str]], state: str) -> None:
        if self.alive and self.running_state != state:
            self.go(state)
        for app, arg in apps:
            if not self.alive or self.transfer_to:
                break
            self.execute(app, arg)
        while self.alive and self.transfer_to:  # the extension is left for the transfer's destination
            target, self.transfer_to = self.transfer_to, None
            self.switch.apps["transfer"](self, target)
        self.finish()

    def execute(self, app: str, arg: str = "", app_uuid: str = "") -> str:
        """Run one dialplan application with EXECUTE / EXECUTE_COMPLETE around it."""
        func = self.switch.apps.get(app)
        if func is None:
            self.hangup("DESTINATION_OUT_OF_ORDER")
            return ""
        app_uuid = app_uuid or new_uuid()
        arg = self.expander(arg, self.variables) if self.expander is not None else arg
        self.variables["current_application"] = app
        if arg:
            self.variables["current_application_data"] = arg
        data = [("Application-Data", arg)] if arg else []
        self.event("CHANNEL_EXECUTE", tail=[("Application", app), *data, ("Application-UUID", app_uuid)])
        self.interrupt.clear()
        result = func(self, arg)
        response = result if isinstance(result, str) and result else "_none_"
        self.variables["last_app"] = app
        tail = [("Application", app), *data, ("Application-Response", response), ("Application-UUID", app_uuid)]
        self.event("CHANNEL_EXECUTE_COMPLETE", tail=tail)
        while self.alive and not self.dtmf.empty():  # digits left over (a terminator) are read now
            self.take_dtmf(0)
        return response

    def pause(self, seconds: float | None) -> bool:
        """Let (scaled) time pass; False if a hangup or break came first. None waits until one does."""
        if not self.alive:
            return False
        timeout = None if seconds is None else self.switch.scaled(seconds)
        return not self.interrupt.wait(timeout)

    def park(self, until: gevent.event.Event | None = None) -> None:
        """``switch_ivr_park``: handle queued messages until the channel hangs up, or ``until`` is set
        (the socket application's listener is gone: CF_CONTROLLED cleared; an application running
        then plays on, as in FreeSWITCH, and the park ends after it). A ``uuid_bridge`` ends the socket
        application in FreeSWITCH; the park after the bridge (``park_after_bridge``) is a new one, which a
        listener that left during the bridge no longer ends (one leaving later still does)."""
        expires, cause = self._park_timeout()
        self.parked = True
        self.event("CHANNEL_PARK")
        while self.alive and not (until is not None and until.is_set()):
            if expires is not None and time.monotonic() >= expires:
                self.hangup(cause)  # park_timeout: nobody took the channel out of park in time
                break
            wait = 0.02 if until is not None else None
            if expires is not None:
                wait = max(0.0, min(wait if wait is not None else 1e9, expires - time.monotonic()))
            try:
                msg = self.queue.get(timeout=wait)
            except gevent.queue.Empty:
                continue
            self.handle(msg)
            if msg.kind == "bridge" and until is not None and until.is_set():
                until = None
        self.parked = False
        self.event("CHANNEL_UNPARK")

    def _park_timeout(self) -> tuple[float | None, str]:
        """``park_timeout=<seconds>[:<cause>]``, as switch_ivr_park reads it: once (the variable is cleared),
        the channel hung up with the cause (default NORMAL_CLEARING) when still parked that long after.
        Real seconds, never scaled: it races the engine's own (real-time) commands, not a caller's script."""
        value = self.variables.pop("park_timeout", None)
        if value is None:
            return None, "NORMAL_CLEARING"
        seconds, _, cause = value.partition(":")
        try:
            timeout = int(seconds)
        except ValueError:
            timeout = 0  # atoi: 0
        if timeout < 0:
            return None, "NORMAL_CLEARING"
        return time.monotonic() + timeout, cause or "NORMAL_CLEARING"

    def handle(self, msg: Message) -> None:
        if msg.kind == "execute" and self.alive:
            msg.done.set(self.execute(msg.app, msg.arg, msg.app_uuid))
        elif msg.kind == "bridge" and msg.peer is not None and self.alive:
            self.bridge(msg.peer, by_app=False)
        elif msg.kind == "bridged":
            self.wait_unbridged(by_app=False)
        msg.done.set("")

    def send(self, msg: Message) -> Message:
        """Queue a message for the session (what ``sendmsg`` and uuid_* commands do)."""
        self.queue.put(msg)
        if msg.kind == "execute":
            self.execute_sent.set()
        return msg

    def send_first(self, msg: Message) -> Message:
        """Put a message before everything queued: a state change (``uuid_bridge``) does not wait
        behind queued applications."""
        waiting = [msg]
        while not self.queue.empty():
            waiting.append(self.queue.get_nowait())
        for each in waiting:
            self.queue.put(each)
        return msg

    def next_execute(self) -> Message | None:
        """Take the first queued application out of the queue (other messages stay, in order)."""
        waiting = [self.queue.get_nowait() for _ in range(self.queue.qsize())]
        found = next((msg for msg in waiting if msg.kind == "execute"), None)
        for msg in waiting:
            if msg is not found:
                self.queue.put(msg)
        if not any(msg.kind == "execute" for msg in waiting if msg is not found):
            self.execute_sent.clear()
        return found

    def flush_executes(self) -> None:
        """Drop the applications queued by sendmsg that have not started (other messages stay)."""
        while (msg := self.next_execute()) is not None:
            msg.done.set("")

    def queue_dtmf(self, digits: str) -> None:
        for digit in digits:
            self.dtmf.put(digit)

    def take_dtmf(self, timeout: float | None) -> str | None:
        """One digit from the caller (DTMF event fired), or None on timeout / hangup."""
        if not self.alive:
            return None
        try:
            digit = self.dtmf.get(timeout=None if timeout is None else self.switch.scaled(timeout))
        except gevent.queue.Empty:
            return None
        if digit == "\0":
            return None
        self.event("DTMF", tail=[("DTMF-Digit", digit), ("DTMF-Duration", "2000"), ("DTMF-Source", "UNKNOWN")])
        return digit

    # ---- bridging ---------------------------------------------------------------------------------

    def link(self, peer: Channel) -> None:
        now = self.switch.now_us()
        for a, b in ((self, peer), (peer, self)):
            a.bridged_to, a.other, a.times["bridged"] = b, b, now
            a.unbridged.clear()
            a.bridge_over.clear()
            a.transferring = a.left_behind = False
        self.other_type, peer.other_type = "originatee", "originator"
        for a, b in ((self, peer), (peer, self)):  # as a real FreeSWITCH sets them (transcript 08)
            a.variables.update(bridge_to=b.uuid, last_bridge_to=b.uuid, bridge_uuid=b.uuid, signal_bond=b.uuid)

    def bridge(self, peer: Channel, *, by_app: bool) -> None:
        """Bridge with ``peer`` as Bridge-A until either side leaves; then apply the after-bridge rule."""
        self.link(peer)
        ids = [("Bridge-A-Unique-ID", self.uuid), ("Bridge-B-Unique-ID", peer.uuid)]
        self.event("CHANNEL_BRIDGE", lead=ids)
        for side in (self, peer):
            if side.on_bridge is not None:
                side.on_bridge(side)
        if peer.parked:
            peer.send(Message("bridged"))
        self._bridge_loop(peer)
        self.event("CHANNEL_UNBRIDGE", lead=ids)
        self.bridged_to = peer.bridged_to = None
        for side in (self, peer):  # switch_ivr_bridge.c clears bridge_to when the bridge ends; the rest stay
            side.variables.pop("bridge_to", None)
        peer.unbridged.set()
        self.unbridged.set()
        self.bridge_over.set()
        peer.bridge_over.set()
        if self.alive and (not peer.alive or self.left_behind or self.transferring):
            self.left_behind = False
            self.after_bridge(by_app)

    def _bridge_loop(self, peer: Channel) -> None:
        """Until either side leaves. Applications queued meanwhile run inside the bridge, the
        partner's audio suspended (switch_ivr_bridge.c's loop parses the private events): a
        playback queued just before a ``uuid_bridge`` plays over the partner."""
        ends = [self.dead, peer.dead, self.unbridged]
        if not any(msg.kind == "execute" for msg in list(self.queue.queue)):
            self.execute_sent.clear()  # set by applications the session has since run
        while not any(e.is_set() for e in ends):
            gevent.wait([*ends, self.execute_sent], count=1)
            msg = None if any(e.is_set() for e in ends) else self.next_execute()
            if msg is not None:
                self.switch.media_in_bridge.append((self.uuid, msg.app))
                self.handle(msg)

    def wait_unbridged(self, *, by_app: bool) -> None:
        """The B side of a bridge: wait for the bridge to end, then apply the after-bridge rule."""
        gevent.wait([self.dead, self.unbridged], count=1)
        if self.alive and not self.bridged_to:
            self.after_bridge(by_app)

    def leave_bridge(self) -> None:
        """Taken out of its bridge by uuid_bridge/uuid_park (FreeSWITCH's CF_TRANSFER): the bridge ends for
        both sides, this channel skips its after-bridge rule, the partner applies its own."""
        if self.bridged_to is None:
            return
        self.transferring = True
        self.bridged_to.left_behind = True
        self.bridged_to.unbridged.set()
        self.unbridged.set()
        self.bridge_over.wait(timeout=5)

    def after_bridge(self, by_app: bool) -> None:
        if self.transferring:
            self.transferring = False
            return
        v = self.variables
        if v.get("park_after_bridge") == "true":
            return
        if by_app and v.get("hangup_after_bridge", "false") != "true":
            return
        self.hangup("NORMAL_CLEARING")

    # ---- hold -------------------------------------------------------------------------------------

    @property
    def is_sip(self) -> bool:
        return self.source == "mod_sofia"

    def _set_leg_holding(self, on: bool) -> None:
        """CF_LEG_HOLDING set on an answered leg: callstate HELD; cleared: UNHELD, hold time accumulated."""
        self.leg_holding = on
        if not self.answered.is_set():
            return
        now = self.switch.now_us()
        if on:
            self.times["last_hold"] = now
            self.set_callstate("HELD")
        else:
            self.times["hold_accum"] += now - self.times["last_hold"] if self.times["last_hold"] else 0
            self.set_callstate("UNHELD")

    def hold(self) -> bool:
        """``switch_ivr_hold`` (``uuid_hold``): refused when already HELD; a SIP leg gets a hold re-INVITE
        (CF_LEG_HOLDING: callstate HELD) before CHANNEL_HOLD fires. Other legs never become HELD, so
        they fire CHANNEL_HOLD on every call."""
        if not self.alive or self.callstate == "HELD":
            return False
        if self.is_sip:
            self._set_leg_holding(True)
        self.event("CHANNEL_HOLD")
        return True

    def unhold(self) -> bool:
        """``switch_ivr_unhold`` (``uuid_hold off``): refused unless HELD; CHANNEL_UNHOLD after UNHELD."""
        if not self.alive or self.callstate != "HELD":
            return False
        self._set_leg_holding(False)
        self.event("CHANNEL_UNHOLD")
        return True

    def mark_hold(self, on: bool) -> None:
        """``switch_channel_mark_hold``: the phone on this leg pressed hold (a sendonly re-INVITE) or
        resumed; nothing happens when the leg is already in that state."""
        if on == self.leg_holding or not self.alive:
            return
        self._set_leg_holding(on)
        self.event("CHANNEL_HOLD" if on else "CHANNEL_UNHOLD", calling=MARK_HOLD)

    # ---- recording --------------------------------------------------------------------------------

    def start_recording(self, path: str, limit: float = 0.0) -> None:
        """A recording media bug; with ``limit`` seconds it closes itself then (``uuid_record ... <limit>``)."""
        self.recordings[path] = started = self.switch.now_us()
        self.event("RECORD_START", tail=[("Record-File-Path", path)])
        if limit > 0:
            gevent.spawn_later(self.switch.scaled(limit), self._recording_limit, path, started)

    def _recording_limit(self, path: str, started: int) -> None:
        if self.alive and self.recordings.get(path) == started:
            self.stop_recording(path)

    def stop_recording(self, path: str) -> bool:
        """Write the file (a short silent WAV as long as the recording) and fire RECORD_STOP."""
        started = self.recordings.pop(path, None)
        if started is None:
            return False
        write_wav(path, (self.switch.now_us() - started) / 1e6 / max(self.switch.time_scale, 1e-9))
        self.event("RECORD_STOP", tail=[("Record-File-Path", path), ("Record-Completion-Cause", "success-maxtime")])
        return True

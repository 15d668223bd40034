"""One ESL connection (inbound client or outbound socket session): commands in, replies and events out."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable

import gevent
import gevent.event
import gevent.queue
import gevent.socket

from engine.emulator.channel import Channel, Message
from engine.emulator.commands import Commands
from engine.emulator.switch import Switch, new_uuid
from engine.esl import codec

MYEVENTS = {
    "CHANNEL_ANSWER",
    "CHANNEL_APPLICATION",
    "CHANNEL_BRIDGE",
    "CHANNEL_CREATE",
    "CHANNEL_DATA",
    "CHANNEL_DESTROY",
    "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE",
    "CHANNEL_ORIGINATE",
    "CHANNEL_UUID",
    "CHANNEL_OUTGOING",
    "CHANNEL_PARK",
    "CHANNEL_PROGRESS",
    "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_STATE",
    "CHANNEL_UNBRIDGE",
    "CHANNEL_UNPARK",
    "DETECTED_SPEECH",
    "DTMF",
    "NOTALK",
    "TALK",
}
EVENT_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_CLOSE = b""


class Connection:
    """Speaks ESL on ``sock``; inbound when ``password`` is given, outbound when ``channel`` is."""

    def __init__(
        self,
        switch: Switch,
        commands: Commands,
        sock: gevent.socket.socket,
        *,
        password: str | None = None,
        channel: Channel | None = None,
    ) -> None:
        self.switch = switch
        self.commands = commands
        self.sock = sock
        self.password = password
        self.channel = channel
        self.authed = channel is not None
        self.fmt = "plain"
        self.events_on = False
        self.all_events = False
        self.events: set[str] = set()
        self.nixed: set[str] = set()  # taken out of ALL
        self.custom: set[str] = set()
        self.filters: list[tuple[str, str]] = []
        self.my_uuid = ""
        self.linger: int | None = None
        self.resume = False  # outbound: ``resume`` seen: the dialplan goes on once the socket closes
        self.connected = gevent.event.Event()  # outbound: ``connect`` seen
        self.first_message = gevent.event.Event()  # outbound: first sendmsg seen
        self.closed = gevent.event.Event()
        self._out: gevent.queue.Queue[bytes] = gevent.queue.Queue()
        self._held: list[bytes] | None = None
        self._writer = gevent.spawn(self._write_loop)
        switch.listeners.add(self)

    # ---- output -----------------------------------------------------------------------------------

    def _write_loop(self) -> None:
        for data in self._out:
            if data is _CLOSE:
                break
            try:
                self.sock.sendall(data)
            except OSError:
                break
        self._shutdown()

    def send(self, data: bytes) -> None:
        if self._held is not None:
            self._held.append(data)
        else:
            self._out.put(data)

    def reply(self, data: bytes) -> None:
        """A command's reply goes before the events that fired while the command ran (as in FreeSWITCH)."""
        self._out.put(data)

    def close(self) -> None:
        self._out.put(_CLOSE)

    def abort(self) -> None:
        """Drop the connection at once, as a crashing FreeSWITCH would."""
        self._out.put(_CLOSE)
        self._shutdown()

    def _shutdown(self) -> None:
        if self.closed.is_set():
            return
        self.switch.listeners.discard(self)
        self.closed.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(gevent.socket.SHUT_RDWR)
        self.sock.close()

    # ---- events -----------------------------------------------------------------------------------

    def wants(self, event: codec.Event) -> bool:
        if not self.events_on:
            return False
        name = event.name
        custom_ok = name != "CUSTOM" or event.get("Event-Subclass") in self.custom
        ok = (self.all_events and name not in self.nixed) or (name in self.events and custom_ok)
        if ok and self.filters:
            ok = passes_filters(self.filters, event)
        if ok and self.my_uuid:
            ok = event.uuid == self.my_uuid or event.get("Job-Owner-UUID") == self.my_uuid
        return ok

    def deliver(self, event: codec.Event) -> None:
        if self.wants(event):
            build = codec.event_json if self.fmt == "json" else codec.event_plain
            late = self.switch.overload.event_delay if self.switch.overload else 0.0
            if late:  # the overload mode: every event late by the same time, so still in order
                gevent.spawn_later(late, self.send, build(event.pairs, event.body))
            else:
                self.send(build(event.pairs, event.body))
        ch = self.channel
        if ch is not None and event.name == "CHANNEL_HANGUP_COMPLETE" and event.uuid == ch.uuid:
            self._session_over(ch)

    def _session_over(self, ch: Channel) -> None:
        self.events_on = False
        if self.linger is None:
            self.send(codec.disconnect_notice())
            self.send(_CLOSE)
            return
        linger = [
            ("Controlled-Session-UUID", ch.uuid),
            ("Content-Disposition", "linger"),
            ("Channel-Name", ch.name),
            ("Linger-Time", str(self.linger)),
        ]
        self.send(codec.disconnect_notice(linger))
        if self.linger >= 0:
            gevent.spawn_later(self.switch.scaled(self.linger), self.close)

    # ---- input ------------------------------------------------------------------------------------

    def serve(self) -> None:
        """Read and answer commands until the peer leaves or the connection is closed."""
        if self.password is not None:
            self.reply(codec.auth_request())
        parser = codec.CommandParser()
        try:
            while not self.closed.is_set():
                data = self.sock.recv(65536)
                if not data:
                    break
                for frame in parser.feed(data):
                    if isinstance(frame, codec.Command):
                        self.handle(frame)
        except OSError:
            pass
        finally:
            self.close()
            self.closed.wait(5)
            if self.channel is not None and self.channel.alive and self.linger is None and not self.resume:
                self.channel.hangup("NORMAL_CLEARING")

    def handle(self, frame: codec.Command) -> None:
        """One command; its reply is written before any event that fired while it ran."""
        verb, _, rest = frame.line.partition(" ")
        if self.switch.keep_log:
            self.switch.commands.append(frame)
        self._held = []
        try:
            text = self._dispatch(verb.lower(), rest.strip(), frame)
            if text is not None:
                self.reply(codec.reply(text))
        finally:
            held, self._held = self._held, None
            for data in held:
                self._out.put(data)

    def _dispatch(self, verb: str, rest: str, frame: codec.Command) -> str | None:
        if not self.authed:
            if verb != "auth":
                return "-ERR invalid"
            if rest == self.password:
                self.authed = True
                return "+OK accepted"
            self.reply(codec.reply("-ERR invalid"))
            self.reply(codec.disconnect_notice())
            self.close()
            return None
        handler: Callable[[str, codec.Command], str | None] | None = getattr(self, f"cmd_{verb}", None)
        if handler is None or (verb in ("connect", "linger", "nolinger", "resume") and self.channel is None):
            if verb in ("linger", "nolinger"):
                return "-ERR not controlling a session"
            return "-ERR command not found"
        return handler(rest, frame)

    def cmd_exit(self, rest: str, frame: codec.Command) -> None:
        self.reply(codec.reply("+OK bye"))
        self.reply(codec.disconnect_notice())
        self.close()

    def cmd_connect(self, rest: str, frame: codec.Command) -> None:
        assert self.channel is not None
        event = self.channel.channel_data_event()
        self.reply(codec.channel_data_reply(event.pairs))
        self.connected.set()

    def cmd_myevents(self, rest: str, frame: codec.Command) -> str:
        if self.my_uuid:
            return "-ERR aready enabled."
        words = rest.split()
        uuid = self.channel.uuid if self.channel is not None else (words[0] if words else "")
        if self.channel is None and uuid not in self.switch.channels and len(words) > 1:
            return "-ERR invalid uuid"
        if any(w.lower() == "json" for w in words):
            self.fmt = "json"
        self.my_uuid = uuid
        self.events |= MYEVENTS
        self.events_on = True
        return "+OK Events Enabled"

    def cmd_resume(self, rest: str, frame: codec.Command) -> str:
        self.resume = True
        return "+OK"

    def cmd_linger(self, rest: str, frame: codec.Command) -> str:
        self.linger = int(rest) if rest.lstrip("-").isdigit() else -1
        return f"+OK will linger {self.linger} seconds" if self.linger != -1 else "+OK will linger"

    def cmd_nolinger(self, rest: str, frame: codec.Command) -> str:
        self.linger = None
        return "+OK will not linger"

    def cmd_event(self, rest: str, frame: codec.Command) -> str:
        words = rest.split()
        if words and words[0].lower() in ("plain", "json", "xml"):
            self.fmt = "json" if words[0].lower() == "json" else "plain"
            words = words[1:]
        keys, custom = 0, False
        for word in words:
            if custom:
                self.custom.add(word)
            elif EVENT_NAME.match(word):
                keys += 1
                if word == "ALL":
                    self.all_events, self.nixed = True, set()
                self.events.add(word)
                self.nixed.discard(word)
                custom = custom or word == "CUSTOM"
        if not keys:
            return "-ERR no keywords supplied"
        self.events_on = True
        return f"+OK event listener enabled {self.fmt}"

    def cmd_nixevent(self, rest: str, frame: codec.Command) -> str:
        keys, custom = 0, False
        for word in rest.split():
            if custom:
                self.custom.discard(word)
            elif EVENT_NAME.match(word):
                keys += 1
                custom = custom or word == "CUSTOM"
                if word == "ALL":
                    self.all_events, self.events = False, set()
                self.events.discard(word)
                self.nixed.add(word)
        if not keys:
            return "-ERR no keywords supplied"
        return "+OK events nixed"

    def cmd_noevents(self, rest: str, frame: codec.Command) -> str:
        if not self.events_on:
            return "-ERR not listening for events"
        self.events_on, self.all_events, self.events, self.custom = False, False, set(), set()
        return "+OK no longer listening for events"

    def cmd_filter(self, rest: str, frame: codec.Command) -> str:
        name, _, value = rest.partition(" ")
        if name.lower() == "delete" and value:
            name, _, value = value.partition(" ")
            if name.lower() == "all":
                self.filters = []
            else:
                self.filters = [
                    (h, v) for h, v in self.filters if not (h.lower() == name.lower() and (not value or v == value))
                ]
            return f"+OK filter deleted. [{name}][{value or '(null)'}]"
        if not value:
            return "-ERR invalid syntax"
        if name.lower() == "add":
            name, _, value = value.partition(" ")
        self.filters.append((name, value))
        return f"+OK filter added. [{name}]=[{value}]"

    def cmd_api(self, rest: str, frame: codec.Command) -> None:
        name, _, arg = rest.partition(" ")
        self.switch.api_gate(name, arg.strip())
        body = self.commands.run(name, arg) or "-ERR no reply\n"  # mod_event_socket's api_exec: no output
        if self.switch.keep_log:
            self.switch.api_log.append((name, arg.strip(), body))
        self.reply(codec.api_response(body))

    def cmd_bgapi(self, rest: str, frame: codec.Command) -> None:
        name, _, arg = rest.partition(" ")
        job = frame.headers.get("Job-UUID") or new_uuid()
        if self.switch.keep_log:
            self.switch.api_log.append((name, arg.strip(), None))
        gevent.spawn(self._background, job, name, arg)
        self.reply(codec.reply(f"+OK Job-UUID: {job}", [("Job-UUID", job)]))

    def _background(self, job: str, name: str, arg: str) -> None:
        self.switch.api_gate(name, arg.strip(), background=True)
        body = self.commands.run(name, arg) or "Command returned no output!"  # api_exec, for a background job
        headers = [("Job-UUID", job), ("Job-Command", name)]
        if arg:
            headers.append(("Job-Command-Arg", arg))
        if self.channel is not None:
            headers.append(("Job-Owner-UUID", self.channel.uuid))
        self.switch.fire("BACKGROUND_JOB", headers, body)

    def cmd_sendmsg(self, rest: str, frame: codec.Command) -> str:
        h = {k.lower(): v for k, v in frame.pairs}
        uuid = rest or h.get("session-id", "")
        own = self.channel is not None and uuid in ("", self.channel.uuid)
        ch = self.channel if own else self.switch.channels.get(uuid)
        if ch is None:
            return f"-ERR invalid session id [{uuid}]"
        command = h.get("call-command", "")
        if command == "execute":
            arg = h.get("execute-app-arg", frame.body if h.get("content-type") == "text/plain" else "")
            app_uuid = h.get("event-uuid") or new_uuid()
            ch.send(Message("execute", app=h.get("execute-app-name", ""), arg=arg, app_uuid=app_uuid))
        elif command == "hangup":
            gevent.spawn(ch.hangup, h.get("hangup-cause", "NORMAL_CLEARING"))
        if own:
            self.first_message.set()
        return "+OK"


def _header(event: codec.Event, name: str) -> str | None:
    """``switch_event_get_header``: the first header of that name, compared without case."""
    wanted = name.lower()
    return next((value for key, value in event.pairs if key.lower() == wanted), None)


def _regex_matches(expression: str, value: str) -> bool:
    """``switch_regex_perform`` on ``/pattern/flags`` (unanchored; flags ``i`` and ``s``)."""
    body = expression[1:]
    pattern, slash, opts = body.rpartition("/")
    if not slash:
        return False  # FreeSWITCH logs "missing ending '/' delimeter" and reports no match
    flags = (re.IGNORECASE if "i" in opts else 0) | (re.DOTALL if "s" in opts else 0)
    try:
        return re.search(pattern, value, flags) is not None
    except re.error:
        return False


def passes_filters(filters: list[tuple[str, str]], event: codec.Event) -> bool:
    """mod_event_socket's ``filter`` rule, step by step (event_handler in mod_event_socket.c).

    Filters are tried in the order they were added; one whose header the event lacks is skipped. A
    value may start with ``+`` (keep, the default) or ``-`` (drop) and spaces; the rest is compared
    without case, or, when the value as given starts with ``/``, as a ``/regex/flags``. The first
    keep filter that matches lets the event through (later keep filters are not tried), and any drop
    filter that matches drops it, before or after. No keep filter matching drops it too: with only
    drop filters, nothing passes.
    """
    send = False
    for name, value in filters:
        found = _header(event, name)
        if found is None:
            continue
        keep, start = True, 0
        while start < len(value) and value[start] in "+- ":
            keep = {"+": True, "-": False}.get(value[start], keep)
            start += 1
        compare_to = value[start:]
        if send and keep:
            continue
        matched = _regex_matches(compare_to, found) if value.startswith("/") else found.lower() == compare_to.lower()
        if matched:
            if not keep:
                return False
            send = True
    return send

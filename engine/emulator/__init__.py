"""A FreeSWITCH emulator speaking real ESL over TCP: for tests, demos and what-if runs.

``Emulator`` wires the parts together and is the control API used by tests and the demo.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import gevent

from engine.emulator.apps import Apps
from engine.emulator.channel import Channel
from engine.emulator.commands import Commands
from engine.emulator.conference import Conferences
from engine.emulator.hash_store import HashStore, hangup_hook
from engine.emulator.originate import Originator
from engine.emulator.outbound import OutboundSocket
from engine.emulator.overload import Overload
from engine.emulator.server import InboundServer
from engine.emulator.sim import CalledParty, Caller, Phone
from engine.emulator.switch import Switch
from engine.emulator.xml_dialplan import XmlDialplan, expand
from engine.esl.codec import Event

__all__ = ["CalledParty", "Caller", "Channel", "Emulator", "Overload", "Phone"]

VARS_XML = Path(__file__).resolve().parents[2] / "freeswitch_conf" / "vars.xml"
DialplanEntry = str | Sequence[str] | Sequence[tuple[str, str]]
DEFAULT_DIALPLAN: dict[str, DialplanEntry] = {
    "9999": ["answer", "playback tone_stream://%(1000,0,440);loops=2", "hangup NORMAL_CLEARING"],
    "park_me": ["answer", "park"],
}
DEFAULT_FALLBACK = [
    ("answer", ""),
    ("playback", "ivr/ivr-not_available.wav"),
    ("playback", "ivr/ivr-leave_message.wav"),
    ("record", "/tmp/hotline-voicemail/${uuid}.wav 120 200 3"),
    ("hangup", "NORMAL_CLEARING"),
]


def _app_list(number: str, entry: DialplanEntry) -> list[tuple[str, str]]:
    """``'socket h:p async full'`` or a list of ``'app arg'`` strings / ``(app, arg)`` pairs."""
    items = [entry] if isinstance(entry, str) else list(entry)
    apps = []
    for item in items:
        if isinstance(item, str):
            app, _, arg = item.strip().partition(" ")
        elif len(item) == 2:
            app, arg = item
        else:
            raise ValueError(f"dialplan {number!r}: entry {item!r} is not 'app arg' or (app, arg)")
        apps.append((app, arg))
    return apps


class Emulator:
    """An emulated FreeSWITCH: inbound ESL server, outbound socket sessions, simulated callers and phones."""

    def __init__(
        self,
        password: str = "ClueCon",
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        dialplan: Mapping[str, DialplanEntry] | None = None,
        time_scale: float = 1.0,
        fallback: Sequence[tuple[str, str]] = DEFAULT_FALLBACK,
        keep_log: bool = True,
        dialplan_xml: Path | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> None:
        """``dialplan_xml``: run that dialplan file (e.g. dialplans/default.xml, with the global variables
        of the vars.xml beside ``freeswitch_conf/``, ``variables`` overriding them) instead of a
        ``dialplan`` dict; its own steps after ``socket`` then replace ``fallback``."""
        self.password, self.host, self.port = password, host, port
        self.switch = Switch(time_scale=time_scale, keep_log=keep_log)
        self.dialplan: dict[str, list[tuple[str, str]]] = {}
        for number, entry in {**DEFAULT_DIALPLAN, **(dialplan or {})}.items():
            self.dialplan[number] = _app_list(number, entry)
        self.xml = XmlDialplan(dialplan_xml, VARS_XML, variables) if dialplan_xml is not None else None
        fallback = [] if self.xml is not None else fallback
        self.phones: dict[str, Phone] = {}
        self.parties: dict[str, CalledParty] = {}  # outbound: who answers each number dialled via a gateway
        self.originator = Originator(self.switch, self.phones, self.route, self.parties)
        self.commands = Commands(self.switch, self.originator, self.route)
        self.hashes = HashStore()  # mod_hash: outlives every ESL client, as in FreeSWITCH
        self.commands.table.update(hash=self.hashes.api, hash_dump=self.hashes.dump)
        globals_ = self.xml.globals if self.xml is not None else {}
        self.switch.hangup_hook = hangup_hook(self.commands.run, lambda data, v: expand(data, v, globals_))
        self.outbound = OutboundSocket(self.switch, self.commands, list(fallback))
        self.switch.apps.update(Apps(self.originator, self.route, self.outbound, self.hunt).table)
        self.conferences = Conferences(self.switch)  # mod_conference's rooms
        self.switch.apps["conference"] = self.conferences.app
        self._server: InboundServer | None = None

    # ---- lifecycle --------------------------------------------------------------------------------

    def start(self) -> int:
        """Listen for inbound ESL clients; returns the bound port (``port=0`` picks a free one)."""
        self._server = InboundServer(self.switch, self.commands, self.password, self.host, self.port)
        self.port = self._server.start()
        return self.port

    def stop(self) -> None:
        """Stop listening, drop every connection and hang up every channel."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        self.drop_connections()
        for ch in list(self.switch.channels.values()):
            ch.hangup("SYSTEM_SHUTDOWN")

    def restart(self) -> int:
        """Stop, then listen again on the same port (a FreeSWITCH restart: new Core-UUID, no channels)."""
        self.stop()
        self.switch.core_uuid = Switch(time_scale=1).core_uuid
        return self.start()

    # ---- dialplan and calls -----------------------------------------------------------------------

    def route(self, number: str) -> list[tuple[str, str]]:
        """The dialplan for ``number``; unknown numbers are rejected like FreeSWITCH's NO_ROUTE_DESTINATION."""
        if self.xml is not None and number not in self.dialplan:
            return self.xml.hunt(number, {}) or [("hangup", "NO_ROUTE_DESTINATION")]
        return list(self.dialplan.get(number, [("hangup", "NO_ROUTE_DESTINATION")]))

    def hunt(self, number: str, ch: Channel) -> list[tuple[str, str]] | None:
        """``execute_extension``'s hunt: the XML dialplan as ``ch`` sees it now, else the dialplan dict."""
        if self.xml is not None:
            return self.xml.hunt(number, ch.variables)
        return self.dialplan.get(number)

    def place_call(self, caller: Caller, destination: str) -> str:
        """A simulated caller dials ``destination``; returns the new inbound channel's uuid."""
        ch = Channel(
            self.switch,
            name=f"sofia/internal/{caller.number}@{self.switch.ipv4}",
            direction="inbound",
            destination=destination,
            cid_number=caller.number,
            cid_name=caller.name,
            source="mod_sofia",
            context="public",
        )
        ch.script = lambda _kind: caller.next_input()
        if self.xml is not None:
            xml = self.xml
            ch.expander = lambda data, variables: expand(data, {**variables, "uuid": ch.uuid}, xml.globals)
        if caller.hangup_after_bridge is not None:
            ch.variables["hangup_after_bridge"] = "true" if caller.hangup_after_bridge else "false"
        ch.on_bridge = lambda leg: self._talk(leg, caller.talk_seconds)
        ch.init(ring=True)
        ch.start(self.route(destination))
        if caller.patience_seconds is not None:
            gevent.spawn(self._patience, ch, caller.patience_seconds)
        return ch.uuid

    def _patience(self, ch: Channel, seconds: float) -> None:
        ch.dead.wait(self.switch.scaled(seconds))
        if ch.alive and ch.bridged_to is None and not ch.times["bridged"]:
            ch.hangup("NORMAL_CLEARING")

    def _talk(self, ch: Channel, seconds: float | None) -> None:
        if seconds is not None:
            gevent.spawn(lambda: ch.dead.wait(self.switch.scaled(seconds)) or ch.hangup("NORMAL_CLEARING"))

    @property
    def channels(self) -> dict[str, Channel]:
        return self.switch.channels

    def hangup(self, uuid: str, cause: str = "NORMAL_CLEARING") -> bool:
        ch = self.switch.channels.get(uuid)
        return ch.hangup(cause) if ch is not None else False

    def press_hold(self, uuid: str, held: bool = True) -> None:
        """The SIP phone (or caller) on ``uuid`` presses hold (a sendonly re-INVITE) or resumes: the
        leg fires CHANNEL_HOLD / CHANNEL_UNHOLD as mod_sofia's switch_channel_mark_hold does."""
        ch = self.switch.channels.get(uuid)
        if ch is None or not ch.is_sip:
            raise ValueError(f"press_hold: {uuid} is not a live SIP channel")
        ch.mark_hold(held)

    def send_dtmf(self, uuid: str, digits: str) -> None:
        """The caller on ``uuid`` presses ``digits``."""
        self.switch.channels[uuid].queue_dtmf(digits)

    # ---- waiting ----------------------------------------------------------------------------------

    @property
    def events(self) -> list[Event]:
        """Every event fired so far, in order."""
        return self.switch.log

    def wait_for(self, predicate: Callable[[Event], bool], timeout: float = 5.0, since: int = 0) -> Event:
        return self.switch.wait_for(predicate, timeout, since)

    def wait_until(self, condition: Callable[[], object], timeout: float = 5.0) -> object:
        return self.switch.wait_until(condition, timeout)

    # ---- fault injection --------------------------------------------------------------------------

    def drop_connections(self) -> None:
        """Cut every inbound and outbound socket at once."""
        if self._server is not None:
            self._server.drop()
        for conn in list(self.outbound.connections):
            conn.abort()

    def send_raw(self, data: bytes) -> None:
        """Write ``data`` as is to every connection (malformed frames)."""
        conns = list(self.outbound.connections) + (list(self._server.connections) if self._server else [])
        for conn in conns:
            conn.send(data)

    def freeze_api(self, frozen: bool = True) -> None:
        """While frozen, api/bgapi commands get no answer (command timeouts)."""
        if frozen:
            self.switch.api_open.clear()
        else:
            self.switch.api_open.set()

    def lose_bridges(self, count: int) -> None:
        """The next ``count`` ``uuid_bridge`` commands answer ``+OK`` but never bridge."""
        self.commands.lost_bridges = count

    def set_api_delay(self, seconds: float) -> None:
        self.switch.api_delay = seconds

    def overload(self, mode: Overload | None) -> None:
        """Be slow and lossy like a real switch under load (:class:`Overload`); None: normal again."""
        self.switch.overload = mode

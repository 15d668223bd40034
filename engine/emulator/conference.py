"""mod_conference as far as hotline uses it: the ``conference`` application and its events.

``conference NAME[@PROFILE][+flags{f1|f2}]`` puts the channel in room NAME (created on the first
member, destroyed with the last) until the channel hangs up or the room ends: a member with flag
``endconf`` ending it ends the room for everyone. CUSTOM ``conference::maintenance`` events carry
``Action`` conference-create, add-member, del-member, conference-destroy with the headers FreeSWITCH
1.10.12 sends (checked with loopback legs; see docs/emulator.md for what is not emulated).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import gevent
import gevent.event

from engine.emulator.channel import Channel
from engine.emulator.switch import Pairs, Switch, new_uuid

DOMAIN = "hotline.local"  # freeswitch_conf/vars.xml's domain: mod_conference's Conference-Domain
SUBCLASS = ("Event-Subclass", "conference::maintenance")
_ARG = re.compile(r"^(?P<name>[^@+\s]+)(?:@(?P<profile>[^+\s]+))?(?:\+flags\{(?P<flags>[^}]*)\})?")


@dataclass
class Member:
    """One channel in a room; ``member_id`` counts from 1 per room, as FreeSWITCH's do."""

    member_id: int
    channel: Channel
    flags: frozenset[str]


@dataclass
class Room:
    """A running conference."""

    name: str
    profile: str
    domain: str
    uuid: str = field(default_factory=new_uuid)
    members: dict[int, Member] = field(default_factory=dict)
    last_id: int = 0
    ended: gevent.event.Event = field(default_factory=gevent.event.Event)

    def headers(self) -> Pairs:
        return [
            ("Conference-Name", self.name),
            ("Conference-Domain", self.domain),
            ("Conference-Size", str(len(self.members))),
            ("Conference-Ghosts", "0"),
            ("Conference-Profile-Name", self.profile),
            ("Conference-Unique-ID", self.uuid),
        ]


class Conferences:
    """The rooms of one emulated FreeSWITCH; :meth:`app` is the ``conference`` application."""

    def __init__(self, switch: Switch, domain: str = DOMAIN) -> None:
        self.switch, self.domain = switch, domain
        self.rooms: dict[str, Room] = {}

    def app(self, ch: Channel, arg: str) -> None:
        """Join the room named by ``arg`` and stay until the channel goes or the room ends."""
        match = _ARG.match(arg.strip())
        if match is None:
            return
        name, profile = match["name"], match["profile"] or "default"
        flags = frozenset(f for f in (match["flags"] or "").split("|") if f)
        room = self.rooms.get(name)
        if room is None:
            room = self.rooms[name] = Room(name, profile, self.domain)
            self.switch.fire("CUSTOM", [SUBCLASS, *room.headers(), ("Action", "conference-create")])
        room.last_id += 1
        member = Member(room.last_id, ch, flags)
        room.members[member.member_id] = member
        ch.answer()
        self._member_event(room, member, "add-member")
        gevent.wait([ch.dead, room.ended], count=1)
        del room.members[member.member_id]
        self._member_event(room, member, "del-member")
        if "endconf" in flags or not room.members:  # endconf: the others leave it (their application returns)
            room.ended.set()
            if self.rooms.get(room.name) is room:
                del self.rooms[room.name]
        if not room.members:
            self.switch.fire("CUSTOM", [SUBCLASS, *room.headers(), ("Action", "conference-destroy")])

    def _member_event(self, room: Room, member: Member, action: str) -> None:
        ch = member.channel
        tail = [
            ("Floor", "false"),
            ("Video", "false"),
            ("Hear", "true"),
            ("See", "true"),
            ("Speak", "true"),
            ("Talking", "false"),
            ("Mute-Detect", "false"),
            ("Hold", "false"),
            ("Member-ID", str(member.member_id)),
            ("Member-Type", "moderator" if "moderator" in member.flags else "member"),
            ("Member-Ghost", "false"),
            ("Energy-Level", "100"),
            ("Current-Energy", "0"),
            ("Action", action),
        ]
        ch.event("CUSTOM", lead=[SUBCLASS, *room.headers()], tail=tail)

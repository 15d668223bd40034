"""Dial strings and endpoints: ``{vars}user/<ext>``, ``loopback/<exten>``, ``error/<cause>``,
``sofia/gateway/<gw>/<number>`` (simulated called parties of outbound campaigns)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gevent

from engine.emulator.channel import Channel
from engine.emulator.sim import CalledParty, Phone
from engine.emulator.switch import Switch

TIMEOUT_VARS = ("leg_timeout", "originate_timeout", "call_timeout")
ACT_GRACE = 30.0
"""Real seconds an originate waits beyond its (scaled) ring timeout for a phone due to act before it."""
Dialplan = Callable[[str], list[tuple[str, str]]]


class OriginateError(Exception):
    """The call could not be set up; ``cause`` is the FreeSWITCH hangup cause."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


@dataclass
class DialTarget:
    variables: dict[str, str]
    endpoint: str


def split_vars(text: str) -> tuple[dict[str, str], str]:
    """``{a=1,b=2}rest`` or ``[a=1]rest`` -> ({'a': '1', 'b': '2'}, 'rest')."""
    variables: dict[str, str] = {}
    text = text.strip()
    while text[:1] in ("{", "["):
        close = "}" if text[0] == "{" else "]"
        end = text.find(close)
        if end < 0:
            break
        for item in filter(None, text[1:end].split(",")):
            key, _, value = item.partition("=")
            variables[key.strip()] = value.strip().strip("'")
        text = text[end + 1 :]
    return variables, text


def parse_dial(text: str) -> list[DialTarget]:
    """Sequential targets (``|``); the first wins."""
    outer, rest = split_vars(text)
    targets = []
    for part in rest.split("|"):
        inner, endpoint = split_vars(part)
        targets.append(DialTarget({**outer, **inner}, endpoint.strip()))
    return targets


class Originator:
    """Creates outbound legs and waits for them to answer (``switch_ivr_originate``)."""

    def __init__(
        self, switch: Switch, phones: dict[str, Phone], dialplan: Dialplan, parties: dict[str, CalledParty]
    ) -> None:
        self.switch = switch
        self.phones = phones
        self.dialplan = dialplan
        self.parties = parties
        self.party_on_leg: dict[str, CalledParty] = {}  # leg uuid -> who answered it (what AMD hears)

    def originate(
        self,
        dial: str,
        *,
        timeout: float = 60,
        originator: Channel | None = None,
        cid_number: str = "0000000000",
        cid_name: str = "",
    ) -> Channel:
        """An answered leg, or OriginateError. ``originator`` (bridge) becomes its Other-Leg."""
        cause = "DESTINATION_OUT_OF_ORDER"
        for target in parse_dial(dial):
            try:
                return self._one(target, timeout, originator, cid_number, cid_name)
            except OriginateError as exc:
                cause = exc.cause
        raise OriginateError(cause)

    def _one(
        self, target: DialTarget, timeout: float, originator: Channel | None, cid_number: str, cid_name: str
    ) -> Channel:
        v = target.variables
        for key in TIMEOUT_VARS:
            if v.get(key, "").isdigit():
                timeout = float(v[key])
                break
        kind, _, rest = target.endpoint.partition("/")
        cid_number = v.get("origination_caller_id_number", cid_number)
        cid_name = v.get("origination_caller_id_name", cid_name)
        if kind == "error":
            raise OriginateError(rest.upper() or "DESTINATION_OUT_OF_ORDER")
        if kind == "user":
            ext, _, domain = rest.partition("@")
            v = {**v, "dialed_user": ext, "dialed_domain": domain or self.switch.ipv4}  # as mod_dptools' user/
            return self._user(ext, v, timeout, originator, cid_number, cid_name)
        if kind == "sofia" and rest.startswith("gateway/"):
            number = rest.split("/", 2)[-1]
            return self._gateway(number, v, timeout, originator, cid_number, cid_name)
        if kind == "loopback":
            return self._loopback(rest.split("/")[0], v, timeout, originator, cid_number, cid_name)
        raise OriginateError("CHAN_NOT_IMPLEMENTED")

    def _leg(
        self,
        name: str,
        dest: str,
        v: dict[str, str],
        originator: Channel | None,
        cid_number: str,
        cid_name: str,
        source: str,
        endpoint: str,
    ) -> Channel:
        variables = {k: v[k] for k in v}
        variables.update(originate_early_media="true", originate_endpoint=endpoint)
        leg = Channel(
            self.switch,
            name=name,
            direction="outbound",
            destination=dest,
            cid_number=cid_number,
            cid_name=cid_name,
            callee_name="Outbound Call",
            callee_number=dest,
            source=source,
            uuid=v.get("origination_uuid") or None,
            variables=variables,
        )
        if originator is not None:
            leg.other, leg.other_type = originator, "originator"
        return leg

    def _wait_answer(self, leg: Channel, timeout: float, acts_after: float | None = None) -> Channel:
        """The leg once answered; OriginateError once it hangs up or rings ``timeout`` (emulated) seconds.

        A phone or party due to act (answer, reject, be busy) ``acts_after`` emulated seconds in, before the
        timeout, does so whatever the real scheduling: both are timers in scaled time, and a loop held for
        longer than the scaled gap between them (a loaded machine) must not turn an answer into a no-answer.
        """
        wait = self.switch.scaled(timeout)
        if acts_after is not None and acts_after < timeout:
            wait += ACT_GRACE
        gevent.wait([leg.answered, leg.dead], timeout=wait, count=1)
        if leg.answered.is_set() and leg.alive:
            return leg
        if leg.alive:
            leg.hangup("NO_ANSWER")
        raise OriginateError(leg.hangup_cause or "NO_ANSWER")

    def _user(
        self, ext: str, v: dict[str, str], timeout: float, originator: Channel | None, cid_number: str, cid_name: str
    ) -> Channel:
        phone = self.phones.get(ext)
        if phone is None or phone.behaviour == "unregistered":
            raise OriginateError("USER_NOT_REGISTERED")
        name = f"sofia/internal/{ext}@{self.switch.ipv4}"
        leg = self._leg(name, ext, v, originator, cid_number, cid_name, "mod_sofia", "sofia")
        leg.init(ring=False)
        leg.go("CS_CONSUME_MEDIA")
        gevent.spawn(self._ring, leg, phone)
        return self._wait_answer(leg, timeout, None if phone.behaviour == "no_answer" else phone.answer_delay)

    def _ring(self, leg: Channel, phone: Phone) -> None:
        leg.ring_ready()
        if phone.behaviour == "no_answer" or not leg.pause(phone.answer_delay):
            return
        if phone.behaviour == "busy":
            leg.hangup("USER_BUSY")
        elif phone.behaviour == "reject":
            leg.hangup("CALL_REJECTED")
        else:
            leg.answer()
            if phone.hold_after is not None:
                gevent.spawn(self._press_hold, leg, phone.hold_after, phone.hold_seconds)
            if phone.talk_seconds is not None and leg.dead.wait(self.switch.scaled(phone.talk_seconds)) is False:
                leg.hangup("NORMAL_CLEARING")

    def _press_hold(self, leg: Channel, after: float, seconds: float) -> None:
        """The phone's hold button, ``after`` seconds into the call, for ``seconds``."""
        if not leg.dead.wait(self.switch.scaled(after)):
            leg.mark_hold(True)
            leg.dead.wait(self.switch.scaled(seconds))
            leg.mark_hold(False)

    def _gateway(
        self, number: str, v: dict[str, str], timeout: float, originator: Channel | None, cid_number: str, cid_name: str
    ) -> Channel:
        party = self.parties.get(number)
        if party is None:
            raise OriginateError("UNALLOCATED_NUMBER")
        name = f"sofia/external/{number}"
        leg = self._leg(name, number, v, originator, cid_number, cid_name, "mod_sofia", "sofia")
        leg.init(ring=False)
        leg.go("CS_CONSUME_MEDIA")
        self.party_on_leg[leg.uuid] = party
        gevent.spawn(self._answer_as, leg, party)
        return self._wait_answer(leg, timeout, None if party.kind == "no_answer" else party.answer_delay)

    def _answer_as(self, leg: Channel, party: CalledParty) -> None:
        leg.ring_ready()
        if party.kind == "no_answer" or not leg.pause(party.answer_delay):
            return
        if party.kind == "busy":
            leg.hangup("USER_BUSY")
            return
        leg.answer()
        if party.kind == "machine":
            limit = party.greeting_seconds + party.record_seconds
        else:
            limit = party.patience_seconds
            leg.on_bridge = lambda ch: self._talk(ch, party.talk_seconds)
        if leg.dead.wait(self.switch.scaled(limit)) is False and not leg.times["bridged"]:
            leg.hangup("NORMAL_CLEARING")

    def _talk(self, leg: Channel, seconds: float | None) -> None:
        if seconds is not None:
            gevent.spawn(lambda: leg.dead.wait(self.switch.scaled(seconds)) or leg.hangup("NORMAL_CLEARING"))

    def _loopback(
        self, exten: str, v: dict[str, str], timeout: float, originator: Channel | None, cid_number: str, cid_name: str
    ) -> Channel:
        a = self._leg(f"loopback/{exten}-a", exten, v, originator, cid_number, cid_name, "mod_loopback", "loopback")
        b = Channel(
            self.switch,
            name=f"loopback/{exten}-b",
            direction="inbound",
            destination=exten,
            cid_number=cid_number,
            cid_name=cid_name,
            callee_name="Outbound Call",
            callee_number=exten,
        )
        a.variables.update(other_loopback_leg_uuid=b.uuid, loopback_leg="A")
        b.variables.update(other_loopback_leg_uuid=a.uuid, loopback_leg="B", is_loopback="1")
        a.loopback_peer, b.loopback_peer = b, a
        a.init(ring=False)
        a.go("CS_CONSUME_MEDIA")
        b.init(ring=True)
        b.start(self.dialplan(exten))
        return self._wait_answer(a, timeout)

"""The ACD shell against a scripted FreeSWITCH: a real control connection (InboundClient) to a
:class:`~tests.switch_peer.Switch`, a pure Acd, a Hub and a Metrics registry.

Each test says what FreeSWITCH answers and asserts what it receives (commands, in order), what the
caller's session hears (its inbox), the agents' states, the desktop feed and the metrics."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from gevent.event import AsyncResult
from gevent.queue import Empty

from engine.acd.core import Acd
from engine.acd.model import Agent, QueueConfig
from engine.acd.states import AgentState
from engine.cti import Hub
from engine.metrics import Metrics
from engine.runtime.acd_shell import (
    AcdShell,
    Bridged,
    BridgeFailed,
    CallerGone,
    ConsultHold,
    LeftQueue,
    QueuedInfo,
    TransferCall,
)
from engine.transport import CommandFailed, InboundClient
from tests.switch_peer import DROP, SILENT, Refused, Reply, Switch, wait_until

CALLER = "13800138000"


class Clock:
    """The ACD's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Rig:
    switch: Switch
    control: InboundClient
    shell: AcdShell
    hub: Hub
    metrics: Metrics
    clock: Clock
    rings: dict[str, AsyncResult] = field(default_factory=dict)  # agent contact -> the originate's result

    def queued(self, call_id: str = "call-1", **kwargs) -> QueuedInfo:
        pop = {"call_id": call_id, "caller_number": CALLER}
        return QueuedInfo(call_id, "sales", CALLER, pop, self.clock(), **kwargs)

    def originate(self, timeout: float = 5.0) -> tuple[dict[str, str], str]:
        """The next ``bgapi originate`` FreeSWITCH received: its variables and what it dials."""
        line = self.switch.wait_for("bgapi originate ", timeout)
        found = re.fullmatch(r"bgapi originate \{(.*)\}(\S+) &park\(\)", line)
        assert found, line
        variables = dict(pair.split("=", 1) for pair in found.group(1).split(","))
        return variables, found.group(2)

    def state(self, agent_id: str) -> AgentState:
        return self.shell.agent_state(agent_id)


def queue(**settings) -> QueueConfig:
    base = {"name": "sales", "skill": "sales", "wrap_up_seconds": 30.0, "ring_timeout_seconds": 20.0}
    return QueueConfig(**{**base, **settings})


@pytest.fixture
def make_rig() -> Iterator[Callable[..., Rig]]:
    made: list[Rig] = []

    def _make(
        answer: Callable[[str], Reply | None] | None = None,
        agents: tuple[str, ...] = ("1001",),
        config: QueueConfig | None = None,
        *,
        command_timeout: float = 2.0,
        bridge_confirm_seconds: float = 0.2,
    ) -> Rig:
        rings: dict[str, AsyncResult] = {}

        def ring(line: str) -> AsyncResult:  # rings until the test answers for the agent
            ring = rings[line.rsplit("}", 1)[1].split()[0]] = AsyncResult()  # a new ring per originate
            return ring

        switch = Switch()
        switch.on("bgapi originate ", ring)
        if answer:
            switch.on("", answer)  # the test's script first; None passes to the ring
        metrics, hub, clock = Metrics(), Hub(), Clock()
        control = switch.client(metrics, timeout=command_timeout, events=("BACKGROUND_JOB",))
        acd = Acd()
        acd.configure_queue(config or queue(), clock())
        for agent_id in agents:
            acd.add_agent(Agent(id=agent_id, skills={"sales": 5}, contact=f"user/{agent_id}"))
        shell = AcdShell(acd, control, hub, metrics, clock=clock, bridge_confirm_seconds=bridge_confirm_seconds)
        for agent_id in agents:
            shell.apply(lambda t, a=agent_id: acd.agent_login(a, t))
        rig = Rig(switch, control, shell, hub, metrics, clock, rings)
        made.append(rig)
        return rig

    yield _make
    for rig in made:
        rig.shell.stop()
        rig.switch.close()


class CallerSocket:
    """The caller's own connection (the :class:`~engine.runtime.acd_shell.Esl` protocol): records its
    commands; FreeSWITCH reports the caller's CHANNEL_BRIDGE after the ``bridge_on``-th uuid_bridge
    (never with 0), as the session does on its socket."""

    def __init__(self, shell: AcdShell, call_id: str, bridge_on: int = 1, fail: str = "") -> None:
        self.shell, self.call_id, self.bridge_on, self.fail = shell, call_id, bridge_on, fail
        self.commands: list[str] = []

    def api(self, cmd: str, *args: str, timeout: float | None = None) -> str:
        self.commands.append(" ".join([cmd, *args]))
        if self.fail and cmd == "uuid_bridge":
            raise CommandFailed(self.fail)
        if cmd == "uuid_bridge" and self.commands.count(self.commands[-1]) == self.bridge_on:
            self.shell.bridge_seen(self.call_id)
        return "+OK\n"

    def apis(self, *commands: tuple[str, ...], timeout: float | None = None) -> list[str]:
        """As FreeSWITCH runs one write's commands: every one, in order; the first ``-ERR`` raised after."""
        replies, failed = [], None
        for cmd, *args in commands:
            try:
                replies.append(self.api(cmd, *args, timeout=timeout))
            except CommandFailed as exc:
                failed = failed or exc
        if failed:
            raise failed
        return replies


def test_an_answered_offer_rings_the_agent_bridges_the_caller_and_measures_the_wait_and_talk(make_rig) -> None:
    rig = make_rig()
    feed = rig.hub.subscribe("1001")
    bridged: list[tuple[str, str, str]] = []
    rig.shell.on_bridged(lambda *args: bridged.append(args))
    info = rig.queued()
    rig.shell.enqueue(info, 0)
    variables, contact = rig.originate()
    assert contact == "user/1001"
    leg = variables.pop("origination_uuid")
    assert variables.pop("hotline_offer")
    assert variables.pop("hotline_engine") == rig.shell.run_id  # whose offer (a restarted engine kills others')
    assert variables == {
        "originate_timeout": "20",
        "hotline_call": "call-1",
        "origination_caller_id_number": CALLER,
        "hangup_after_bridge": "true",
        "park_timeout": "30:ALLOTTED_TIMEOUT",  # nobody bridged it in 30 s: FreeSWITCH hangs it up
        "hotline_leg": "true",  # the dialler's connection filters on it (callbacks watch this leg there)
        "hotline_agent": "1001",  # adoption after a restart: whose leg, for which call (no command later)
        "hotline_call_id": "call-1",
    }
    assert rig.state("1001") is AgentState.RESERVED
    rig.clock.now += 12.5
    rig.rings["user/1001"].set(f"+OK {leg}\n")
    assert info.inbox.get(timeout=5) == Bridged("1001", leg)  # no session socket: told once FreeSWITCH accepted
    assert rig.switch.commands[-2:] == ["api uuid_break call-1 all", f"api uuid_bridge call-1 {leg}"]
    assert rig.state("1001") is AgentState.ON_CALL
    assert bridged == [("call-1", "1001", "sales")]
    pops = [m for m in iter(lambda: feed.get(timeout=1), None) if m.kind == "screen_pop"]
    assert [(m.data["phase"], m.data["waited_seconds"], m.data["call_id"]) for m in pops] == [
        ("offer", 0.0, "call-1"),
        ("answer", 12.5, "call-1"),
    ]
    rig.clock.now += 40
    rig.shell.call_ended("call-1")
    assert rig.state("1001") is AgentState.WRAP_UP
    m = rig.metrics
    assert m.value("hotline_queue_offered_total", queue="sales") == 1
    assert m.value("hotline_offers_total", result="answered") == 1
    assert m.value("hotline_queue_offers_total", queue="sales", result="answered") == 1
    assert m.value("hotline_queue_wait_seconds_sum", queue="sales", outcome="answered") == pytest.approx(12.5)
    assert m.value("hotline_queue_talk_seconds_sum", queue="sales") == pytest.approx(40)
    assert m.value("hotline_screen_pops_total", kind="offer") == 1
    assert m.value("hotline_screen_pops_total", kind="answer") == 1


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        ("-ERR NO_ANSWER\n", "no_answer"),
        ("-ERR USER_BUSY\n", "busy"),
        ("-ERR CALL_REJECTED\n", "rejected"),
        ("-ERR DESTINATION_OUT_OF_ORDER\n", "failed"),
        ("-ERR\n", "failed"),  # no cause at all
        ("-USAGE: originate <call url> <exten>\n", "failed"),
    ],
)
def test_a_failed_originate_puts_the_call_back_at_the_head_and_offers_it_to_the_next_agent(
    make_rig, result: str, reason: str
) -> None:
    rig = make_rig(agents=("1001", "1002"))
    info = rig.queued()
    rig.shell.enqueue(info, 0)
    _, first = rig.originate()
    rig.rings[first].set(result)
    _, second = rig.originate()
    assert {first, second} == {"user/1001", "user/1002"}
    assert rig.metrics.value("hotline_offers_total", result=reason) == 1
    assert rig.metrics.value("hotline_queue_offers_total", queue="sales", result=reason) == 1
    assert rig.state(first.removeprefix("user/")) is AgentState.READY  # held out of routing, not stuck reserved
    assert rig.state(second.removeprefix("user/")) is AgentState.RESERVED
    assert info.inbox.empty()


@pytest.mark.parametrize(
    ("answer", "why"),
    [(Refused("-ERR invalid command"), "refused"), (SILENT, "timeout")],
    ids=["command-refused", "no-reply"],
)
def test_an_originate_that_never_gets_a_result_fails_the_offer(make_rig, answer: Reply, why: str) -> None:
    first_done = AsyncResult()

    def script(line: str) -> Reply | None:
        if line.startswith("bgapi originate ") and not first_done.ready():
            first_done.set(line)
            return answer
        return None

    rig = make_rig(script, agents=("1001", "1002"), command_timeout=0.3)
    rig.shell.enqueue(rig.queued(), 0)
    _, first = rig.originate()
    wait_until(lambda: rig.metrics.value("hotline_offers_total", result="failed") == 1, what=f"offer failed ({why})")
    if why == "timeout":
        assert rig.metrics.value("hotline_esl_command_timeouts_total", command="bgapi originate") == 1
    _, second = rig.originate()  # the call goes on to the other agent
    assert {first, second} == {"user/1001", "user/1002"}
    assert rig.state(first.removeprefix("user/")) is AgentState.READY


def test_a_control_connection_lost_while_ringing_rings_the_agent_again_once_back_without_penalty(make_rig) -> None:
    dropped = AsyncResult()

    def script(line: str) -> Reply | None:
        if line.startswith("bgapi originate ") and not dropped.ready():
            dropped.set(True)
            return DROP
        return None

    rig = make_rig(script)
    rig.shell.start()
    info = rig.queued()
    rig.shell.enqueue(info, 0)
    first, _ = rig.originate()
    assert rig.control.wait_connected(5)
    again, contact = rig.originate()  # the reset withdrew the cut offer; the same agent, not held out
    assert (contact, again["hotline_call"]) == ("user/1001", "call-1")
    assert again["origination_uuid"] != first["origination_uuid"]
    assert rig.metrics.value("hotline_offers_total", result="failed") == 0
    assert f"api uuid_kill {first['origination_uuid']} ORIGINATOR_CANCEL" in wait_until(
        lambda: [c for c in rig.switch.commands if c.startswith("api uuid_kill")], what="the cut leg killed"
    )
    assert info.inbox.empty()


def test_a_short_control_outage_does_not_hold_every_ready_agent_out_of_routing(make_rig) -> None:
    """The ACD's reset at reconnect voids ringing offers without penalty (docs/architecture.md); an offer
    cut by the lost connection is left to it, so a blip does not hold ready agents out for the queue's
    failed delay (30 s) while the caller waits."""
    dropped = AsyncResult()

    def script(line: str) -> Reply | None:
        if line.startswith("bgapi originate ") and not dropped.ready():
            dropped.set(True)
            return DROP
        return None

    rig = make_rig(script, agents=("1001", "1002", "1003"))
    rig.shell.start()
    rig.shell.enqueue(rig.queued(), 0)
    rig.originate()
    assert rig.control.wait_connected(5)
    rig.originate(timeout=2)  # offered again once FreeSWITCH is back


def test_an_agent_contact_that_is_not_an_endpoint_is_never_sent(make_rig) -> None:
    rig = make_rig(agents=())
    rig.shell.acd.add_agent(Agent(id="1003", skills={"sales": 5}, contact="user/1003 &bridge(sofia/gw/x/1)"))
    rig.shell.apply(lambda t: rig.shell.acd.agent_login("1003", t))
    info = rig.queued()
    rig.shell.enqueue(info, 0)
    wait_until(lambda: rig.metrics.value("hotline_offers_total", result="failed") == 1, what="offer failed")
    assert rig.metrics.value("hotline_unsafe_values_total", source="agent_contact") == 1
    assert rig.switch.commands == []
    assert rig.state("1003") is AgentState.READY
    assert rig.shell.acd.position("call-1") == 1


def test_a_refused_bridge_releases_the_agent_leg_and_requeues_the_call_at_the_head(make_rig) -> None:
    rig = make_rig(lambda line: ("-ERR No such channel!\n") if line.startswith("api uuid_bridge") else None)
    info = rig.queued()
    rig.shell.enqueue(info, 0)
    variables, _ = rig.originate()
    leg = variables["origination_uuid"]
    rig.rings["user/1001"].set(f"+OK {leg}\n")
    assert info.inbox.get(timeout=5) == BridgeFailed()
    assert rig.switch.commands[-4:] == [
        "api uuid_break call-1 all",
        f"api uuid_bridge call-1 {leg}",
        "api uuid_exists call-1",  # the caller is still there (the switch does not say false): the agent's leg went
        f"api uuid_kill {leg} NORMAL_CLEARING",
    ]
    assert rig.metrics.value("hotline_queue_bridge_failures_total", queue="sales", reason="refused") == 1
    assert not info.connecting
    assert rig.state("1001") is AgentState.READY
    assert rig.shell.acd.position("call-1") == 1
    assert rig.metrics.value("hotline_queue_calls_waiting", queue="sales") == 1


def test_on_the_callers_socket_the_session_hears_bridged_only_once_its_channel_bridge_arrives(make_rig) -> None:
    rig = make_rig()
    seen: list[str] = []
    rig.shell.on_bridge_seen(seen.append)
    caller = CallerSocket(rig.shell, "call-1", bridge_on=2)  # the first uuid_bridge never forms
    info = rig.queued(esl=caller)
    rig.shell.enqueue(info, 0)
    variables, _ = rig.originate()
    leg = variables["origination_uuid"]
    rig.rings["user/1001"].set(f"+OK {leg}\n")
    wait_until(lambda: info.connecting, what="agent answered")
    assert info.inbox.get(timeout=5) == Bridged("1001", leg)
    assert caller.commands == ["uuid_break call-1 all", f"uuid_bridge call-1 {leg}"] * 2
    assert seen == ["call-1"]
    wait_until(lambda: not info.connecting, what="bridge settled")
    assert rig.state("1001") is AgentState.ON_CALL
    assert rig.metrics.value("hotline_queue_bridge_failures_total", queue="sales", reason="no_bridge_event") == 0
    assert not any(line.startswith("api uuid_kill") for line in rig.switch.commands)


class HangsUpAtTheBridge(CallerSocket):
    """The caller's CHANNEL_BRIDGE and then its hangup are read before the bridging greenlet runs again."""

    def api(self, cmd: str, *args: str, timeout: float | None = None) -> str:
        reply = super().api(cmd, *args, timeout=timeout)
        if cmd == "uuid_bridge":
            self.shell.call_ended(self.call_id)  # the session saw the hangup: the call ends and is recorded
        return reply


def test_a_caller_who_hangs_up_just_as_the_bridge_forms_leaves_nothing_tracked(make_rig) -> None:
    """The soak found calls kept for ever in the tables of bridged calls (agent legs, talk time, and the
    bridge listeners' hold and segment tables): the bridge was taken as made after the call had ended."""
    rig = make_rig()
    bridged: list[tuple[str, str, str]] = []
    rig.shell.on_bridged(lambda *args: bridged.append(args))
    caller = HangsUpAtTheBridge(rig.shell, "call-1")
    info = rig.queued(esl=caller)
    rig.shell.enqueue(info, 0)
    variables, _ = rig.originate()
    leg = variables["origination_uuid"]
    rig.rings["user/1001"].set(f"+OK {leg}\n")
    wait_until(lambda: f"uuid_bridge call-1 {leg}" in caller.commands, what="the bridge made")
    wait_until(lambda: not rig.shell._joining, what="the bridging greenlet done")
    assert bridged == []
    assert rig.shell.inboxes == {} and dict(rig.shell.agent_legs) == {} and not rig.shell.acd.has_call("call-1")
    assert rig.state("1001") is AgentState.WRAP_UP  # the call did reach the agent


@pytest.mark.parametrize(
    ("caller_kwargs", "reason", "attempts"),
    [({"bridge_on": 0}, "no_bridge_event", 2), ({"fail": "-ERR No such channel!"}, "refused", 1)],
    ids=["never-bridged", "caller-gone"],
)
def test_a_bridge_that_never_forms_on_the_callers_socket_fails_after_the_retries(
    make_rig, caller_kwargs, reason: str, attempts: int
) -> None:
    rig = make_rig(bridge_confirm_seconds=0.05)
    caller = CallerSocket(rig.shell, "call-1", **caller_kwargs)
    info = rig.queued(esl=caller)
    rig.shell.enqueue(info, 0)
    variables, _ = rig.originate()
    leg = variables["origination_uuid"]
    rig.rings["user/1001"].set(f"+OK {leg}\n")
    assert info.inbox.get(timeout=5) == BridgeFailed()
    assert caller.commands == ["uuid_break call-1 all", f"uuid_bridge call-1 {leg}"] * attempts
    assert rig.switch.wait_for("api uuid_kill") == f"api uuid_kill {leg} NORMAL_CLEARING"
    assert rig.metrics.value("hotline_queue_bridge_failures_total", queue="sales", reason=reason) == 1
    assert rig.state("1001") is AgentState.READY
    assert rig.shell.acd.position("call-1") == 1


def test_a_caller_who_hangs_up_while_the_agent_rings_cancels_the_ring_even_if_the_agent_answers_late(
    make_rig,
) -> None:
    rig = make_rig()
    feed = rig.hub.subscribe("1001")
    info = rig.queued()
    rig.shell.enqueue(info, 0)
    variables, _ = rig.originate()
    leg = variables["origination_uuid"]
    rig.clock.now += 7
    rig.shell.call_ended("call-1")
    assert rig.switch.wait_for("api uuid_kill") == f"api uuid_kill {leg} ORIGINATOR_CANCEL"
    assert rig.metrics.value("hotline_offers_total", result="cancelled") == 1
    assert rig.metrics.value("hotline_queue_wait_seconds_sum", queue="sales", outcome="abandoned") == 7
    assert rig.state("1001") is AgentState.READY
    assert "1001" not in rig.hub.current  # a desktop connecting now gets no stale screen pop
    rig.rings["user/1001"].set(f"+OK {leg}\n")  # the agent picked up just as the caller left
    assert rig.switch.wait_for("api uuid_kill") == f"api uuid_kill {leg} ORIGINATOR_CANCEL"
    assert not any(line.startswith("api uuid_bridge") for line in rig.switch.commands)
    assert rig.state("1001") is AgentState.READY
    assert rig.metrics.value("hotline_offers_total", result="answered") == 0
    assert [m.kind for m in iter(lambda: feed.get(timeout=0.05), None)].count("screen_pop") == 1


def test_the_acd_moves_a_call_out_of_its_queue_on_max_wait_and_on_the_callers_choice(make_rig) -> None:
    rig = make_rig(agents=(), config=queue(max_wait_seconds=60, exit_target="number:100"))
    first, second = rig.queued("call-1"), rig.queued("call-2")
    rig.shell.enqueue(first, 0)
    rig.clock.now += 30
    rig.shell.enqueue(second, 0)
    rig.shell.leave("call-2", "callback")
    assert second.inbox.get(timeout=1) == LeftQueue("caller", "callback", 1030.0)
    rig.clock.now += 31
    rig.shell.apply(rig.shell.acd.tick)
    assert first.inbox.get(timeout=1) == LeftQueue("max_wait", "number:100", 1000.0)
    assert rig.metrics.value("hotline_queue_calls_waiting", queue="sales") == 0
    with pytest.raises(LookupError, match="call call-1 is not bridged to an agent"):
        rig.shell.transfer("call-1", "number:200")
    assert rig.switch.commands == []


def bridge(rig: Rig, call_id: str) -> tuple[QueuedInfo, str, str]:
    """Queue ``call_id`` and let the agent FreeSWITCH rings answer: (its info, the agent's leg, the agent)."""
    info = rig.queued(call_id)
    rig.shell.enqueue(info, 0)
    variables, contact = rig.originate()
    rig.rings[contact].set(f"+OK {variables['origination_uuid']}\n")
    assert isinstance(info.inbox.get(timeout=5), Bridged)
    return info, variables["origination_uuid"], contact.removeprefix("user/")


def test_a_transfer_keeps_the_caller_tells_the_session_then_hangs_up_the_agent_leg(make_rig) -> None:
    rig = make_rig()
    info, leg, _agent = bridge(rig, "call-1")
    before = len(rig.switch.commands)
    rig.shell.transfer("call-1", "number:100")
    assert info.inbox.get(timeout=1) == TransferCall("number:100")
    assert rig.switch.commands[before:] == [
        "api uuid_setvar call-1 park_after_bridge true",
        f"api uuid_kill {leg} NORMAL_CLEARING",
    ]
    assert rig.shell.hold_for_consult("call-1", music=False) == leg
    assert info.inbox.get(timeout=1) == ConsultHold(music=False)


def test_a_transfer_freeswitch_refuses_tells_no_one_and_leaves_the_agent_on_the_call(make_rig) -> None:
    rig = make_rig(lambda line: ("-ERR No such channel!\n") if line.startswith("api uuid_setvar") else None)
    info, _leg, _agent = bridge(rig, "call-1")
    with pytest.raises(CommandFailed, match="No such channel"):
        rig.shell.transfer("call-1", "number:100")
    with pytest.raises(Empty):
        info.inbox.get(timeout=0.05)
    assert not any(line.startswith("api uuid_kill") for line in rig.switch.commands)
    assert rig.state("1001") is AgentState.ON_CALL


def test_after_a_reconnect_only_calls_freeswitch_still_has_stay_bridged_and_no_agent_stays_reserved(
    make_rig,
) -> None:
    alive: set[str] = set()

    def script(line: str) -> Reply | None:
        if line.startswith("api uuid_exists "):
            return "true" if line.split()[-1] in alive else "false"
        return None

    rig = make_rig(script, agents=("1001", "1002", "1003"))
    rig.shell.start()
    _, _, kept_agent = bridge(rig, "call-1")
    _, gone_leg, gone_agent = bridge(rig, "call-2")
    alive.add("call-1")  # call-2's caller and agent leg vanished with the restart
    rig.shell.enqueue(rig.queued("call-3"), 0)
    _, ringing = rig.originate()
    rig.switch.drop_all()  # FreeSWITCH restarts
    wait_until(lambda: rig.metrics.value("hotline_esl_reconnects_total", connection="control") == 1)
    wait_until(lambda: f"api uuid_exists {gone_leg}" in rig.switch.commands, what="reconciliation")
    assert "api uuid_exists call-1" in rig.switch.commands
    assert "api uuid_exists call-2" in rig.switch.commands
    rig.clock.now += 11  # past the ACD's reconfirm time
    rig.shell.apply(rig.shell.acd.tick)
    assert rig.state(kept_agent) is AgentState.ON_CALL
    assert rig.state(gone_agent) is AgentState.WRAP_UP
    again, rung = rig.originate()  # the ring died with the connection: offered again once back, no penalty
    assert (again["hotline_call"], rung) == ("call-3", ringing)


def test_an_adopted_call_freeswitch_still_has_stays_bridged_after_a_reconnect(make_rig) -> None:
    """A call adopted after a restart has no session here, only the ACD's record: the reconnect asks the ACD
    which calls are bridged (and their agent legs), so it is confirmed like any other."""
    exists = {"api uuid_exists call-9": "false", "api uuid_exists leg-9": "true"}  # the caller's channel went
    rig = make_rig(exists.get)
    rig.shell.acd.add_agent(Agent(id="1009", skills={"sales": 5}, contact="user/1009"))
    now = rig.clock()
    times = {"enqueued_at": now - 60, "bridged_at": now - 30}
    rig.shell.apply(lambda t: rig.shell.acd.adopt_call("call-9", "sales", 0, "1009", **times, now=t))
    rig.shell.joined("call-9", "leg-9")
    assert dict(rig.shell.agent_legs) == {"call-9": "leg-9"}
    rig.shell.start()
    rig.switch.drop_all()  # FreeSWITCH restarts
    wait_until(lambda: "api uuid_exists leg-9" in rig.switch.commands, what="the adopted call's legs asked")
    # and its answer applied: a command seen is not its reply read (the clock below won on a loaded machine)
    wait_until(lambda: rig.shell.acd.snapshot().calls["call-9"].confirmed, what="the adopted call reconfirmed")
    rig.clock.now += 11  # past the ACD's reconfirm time
    rig.shell.apply(rig.shell.acd.tick)
    assert rig.state("1009") is AgentState.ON_CALL
    rig.clock.now += 4
    rig.shell.call_ended("call-9")  # the watch saw its hangup: talk time from the ACD's bridge time
    assert rig.state("1009") is AgentState.WRAP_UP and dict(rig.shell.agent_legs) == {}
    assert rig.metrics.value("hotline_queue_talk_seconds_sum", queue="sales") == 30 + 11 + 4


# ---- fail safe: a gone caller is never offered again; no agent leg stays parked ----------------------------


def gone_caller(line: str) -> Reply | None:
    """FreeSWITCH under load: the caller hung up while the agent answered (its hangup not yet read)."""
    if line.startswith(("api uuid_bridge call-1", "api uuid_break call-1")):
        return "-ERR No such channel!\n"
    if line == "api uuid_exists call-1":
        return "false\n"
    return None


def test_a_bridge_refused_because_the_caller_is_gone_ends_the_call_and_never_offers_it_again(make_rig) -> None:
    rig = make_rig(gone_caller, agents=("1001", "1002"))
    info = rig.queued()
    rig.shell.enqueue(info, 0)
    variables, contact = rig.originate()
    leg = variables["origination_uuid"]
    rig.rings[contact].set(f"+OK {leg}\n")
    assert info.inbox.get(timeout=5) == CallerGone()
    wait_until(lambda: f"api uuid_kill {leg} NORMAL_CLEARING" in rig.switch.commands, what="the agent leg killed")
    assert rig.state(contact.removeprefix("user/")) is AgentState.READY
    assert rig.shell.acd.position("call-1") is None
    assert rig.metrics.value("hotline_queue_callers_gone_total", queue="sales") == 1
    assert rig.metrics.value("hotline_queue_bridge_failures_total", queue="sales", reason="caller_gone") == 1
    rig.shell.apply(rig.shell.acd.tick)  # time passes: nothing is offered again, to any agent
    assert [c for c in rig.switch.commands if c.startswith("bgapi originate")] == [rig.switch.commands[0]]
    assert rig.shell.acd.queue_status("sales", rig.clock()).waiting == 0


def test_the_caller_hanging_up_while_the_bridge_is_made_releases_the_agent_without_wrap_up(make_rig) -> None:
    hold = AsyncResult()

    def slow_bridge(line: str) -> Reply | None:
        if line.startswith("api uuid_break call-1"):  # the bridge waits until the caller hung up
            hold.get()
            return "-ERR No such channel!\n"
        return None

    rig = make_rig(slow_bridge)
    info = rig.queued()
    rig.shell.enqueue(info, 0)
    variables, contact = rig.originate()
    leg = variables["origination_uuid"]
    rig.rings[contact].set(f"+OK {leg}\n")
    wait_until(lambda: info.connecting, what="the agent answered")
    rig.shell.call_ended("call-1")  # the session saw the caller's hangup
    assert rig.state("1001") is AgentState.READY  # not wrap_up: the call never reached the agent
    assert rig.shell.acd.queue_status("sales", rig.clock()).waiting == 0
    hold.set(None)
    wait_until(lambda: f"api uuid_kill {leg} NORMAL_CLEARING" in rig.switch.commands, what="the agent leg killed")
    assert rig.metrics.value("hotline_queue_callers_gone_total", queue="sales") == 1
    assert len([c for c in rig.switch.commands if c.startswith("bgapi originate")]) == 1


def test_an_originate_that_times_out_kills_its_leg_and_reconciliation_kills_it_when_it_appears(make_rig) -> None:
    """The reply to the originate never comes: the leg is killed by its UUID (not there yet), and once
    FreeSWITCH lists it the reconciliation kills it again, counted."""
    listed: list[str] = []

    def script(line: str) -> Reply | None:
        if line.startswith("bgapi originate ") and not listed:
            return AsyncResult()  # the BACKGROUND_JOB never comes in time
        if line.startswith("api uuid_kill ") and line.split()[2] not in listed:
            return "-ERR No such channel!\n"
        if line == "api show channels as json":
            rows = [{"uuid": uuid, "name": "sofia/internal/1001"} for uuid in listed]
            return json.dumps({"row_count": len(rows), "rows": rows}) + "\n"
        return None

    rig = make_rig(script, agents=("1001",), config=queue(ring_timeout_seconds=0.2, failed_delay_seconds=600))
    rig.shell.originate_margin_seconds = 0.1
    rig.shell.enqueue(rig.queued(), 0)
    variables, _ = rig.originate()
    leg = variables["origination_uuid"]
    wait_until(lambda: f"api uuid_kill {leg} ORIGINATOR_CANCEL" in rig.switch.commands, what="kill after timeout")
    assert rig.state("1001") is AgentState.READY  # told before the kill was sent: not waiting on it
    assert rig.metrics.value("hotline_orphan_legs_killed_total", reason="command_timeout") == 0  # nothing there yet
    assert rig.shell.reconcile() == 0  # FreeSWITCH lists no such leg: nothing to kill
    listed.append(leg)  # the originate completes late: the agent's phone is parked
    assert rig.shell.reconcile() == 1, rig.switch.commands
    assert rig.switch.commands[-1] == f"api uuid_kill {leg} NORMAL_CLEARING"
    assert rig.metrics.value("hotline_orphan_legs_killed_total", reason="reconcile") == 1


def test_reconciliation_runs_by_itself_and_leaves_owned_legs_alone(make_rig) -> None:
    """Two calls: 1001's originate results never come (the legs are let go of);
    1002 answers (bridged: owned). FreeSWITCH lists every leg; the periodic reconciliation kills the
    first agent's only."""
    listed: list[str] = []
    ringing: list[str] = []  # the legs to 1002, who answers: bridged, hotline's

    def script(line: str) -> Reply | None:
        if line.startswith("bgapi originate "):
            listed.append(line.split("origination_uuid=")[1].split(",")[0])
            if "user/1001" in line:
                return AsyncResult()
            ringing.append(listed[-1])
            return f"+OK {listed[-1]}\n"
        if line == "api show channels as json":
            return json.dumps({"row_count": len(listed), "rows": [{"uuid": u} for u in listed]}) + "\n"
        return None

    rig = make_rig(script, agents=("1001", "1002"), config=queue(ring_timeout_seconds=0.2))
    rig.shell.originate_margin_seconds = 0.1
    rig.shell.reconcile_seconds = 0.05
    rig.shell.start()
    rig.shell.enqueue(rig.queued("call-1"), 0)
    rig.shell.enqueue(rig.queued("call-2"), 0)
    wait_until(
        lambda: rig.metrics.value("hotline_orphan_legs_killed_total", reason="reconcile") >= 1,
        what="the reconciliation killed the leg let go of",
    )
    kills = [c for c in rig.switch.commands if c.startswith("api uuid_kill")]
    assert any(c.endswith(" NORMAL_CLEARING") and c.split()[2] not in ringing for c in kills)
    assert ringing and not any(leg in c for c in kills for leg in ringing)  # bridged to 1002: hotline's


def test_a_callbacks_offer_leg_waits_parked_while_the_customer_rings(make_rig) -> None:
    """A callback's agent answers first, then waits parked while the customer's phone rings: their leg's
    park_timeout is 30 s plus the queue's callback ring time (30 here), not the 30 s of an inbound call's offer."""
    rig = make_rig()
    rig.shell.apply(lambda now: rig.shell.acd.add_callback("cb-1", "sales", 0, now, now, caller=CALLER))
    variables, contact = rig.originate()
    assert contact == "user/1001" and variables["hotline_call"] == "cb-1"
    assert variables["park_timeout"] == "60:ALLOTTED_TIMEOUT"

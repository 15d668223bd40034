"""The pieces the call-control modules run on, without the engine: a scripted FreeSWITCH
(:mod:`tests.switch_peer`) behind a real control client, a pure :class:`~engine.acd.core.Acd` in a real
:class:`~engine.runtime.acd_shell.AcdShell` on a hand-turned clock, a CTI hub, a metrics registry, the
dialler's :class:`~engine.campaigns.legs.Legs` and a migrated database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from engine.acd.core import Acd
from engine.acd.hold import HoldTotal
from engine.acd.model import Agent, QueueConfig
from engine.acd.states import AgentState
from engine.campaigns.legs import Legs
from engine.cti import Hub
from engine.cti.hub import Subscription
from engine.metrics import Metrics
from engine.runtime.acd_shell import AcdShell, Bridged, QueuedInfo
from engine.runtime.segments import CallSegments
from engine.store.db import make_engine, session_factory
from engine.store.migrate import upgrade
from engine.transport import InboundClient
from tests.switch_peer import Switch, originate_uuid, wait_until

CALLER = "07700900123"


class Clock:
    """The ACD's clock, turned by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Rig:
    fs: Switch
    control: InboundClient
    legs: Legs
    acd: AcdShell
    hub: Hub
    metrics: Metrics
    sessions: sessionmaker[Session]
    clock: Clock
    segments: CallSegments
    feeds: dict[str, Subscription] = field(default_factory=dict)

    def state(self, agent_id: str) -> AgentState:
        return self.acd.acd.snapshot().agents[agent_id].state

    def feed(self, agent_id: str) -> Subscription:
        """The agent's CTI feed (subscribed on first use)."""
        if agent_id not in self.feeds:
            self.feeds[agent_id] = self.hub.subscribe(agent_id)
        return self.feeds[agent_id]

    def messages(self, agent_id: str, kind: str) -> list[dict[str, Any]]:
        """The ``kind`` messages on the agent's feed so far (taken off the feed)."""
        found: list[dict[str, Any]] = []
        feed = self.feed(agent_id)
        while (message := feed.get(timeout=0)) is not None:
            if message.kind == kind:
                found.append(message.data)
        return found

    def bridge(self, call_id: str, agent_id: str, queue: str = "sales", caller: str = CALLER) -> str:
        """A caller queued, offered to ``agent_id`` (who answers: FreeSWITCH's default ``+OK``) and
        bridged, through the shell; the agent's leg."""
        info = QueuedInfo(call_id, queue, caller, {"call_id": call_id, "caller_number": caller}, self.clock())
        self.acd.enqueue(info, 0)
        wait_until(lambda: call_id in self.acd.agent_legs, what=f"{call_id} bridged")
        assert info.inbox.get(timeout=1) == Bridged(agent_id, self.acd.agent_legs[call_id])
        assert self.state(agent_id) == AgentState.ON_CALL
        return self.acd.agent_legs[call_id]


def agent_legs(fs: Switch) -> list[str]:
    """The legs rung by ``originate`` so far, in order."""
    return [originate_uuid(line) for line in fs.sent("bgapi originate")]


@contextmanager
def runtime_rig(
    db_url: str, agents: dict[str, dict[str, int]], queues: tuple[QueueConfig, ...] = (), *, timeout: float = 1.0
) -> Iterator[Rig]:
    """Agents (logged in, ready; contact ``user/<id>``) and queues (default: ``sales`` on skill sales);
    ``timeout``: the control connection's command timeout."""
    upgrade(db_url)
    engine = make_engine(db_url)
    fs = Switch()
    try:
        metrics, hub, clock = Metrics(), Hub(), Clock()
        control = fs.client(metrics, timeout=timeout)
        acd = Acd()
        for config in queues or (QueueConfig("sales", "sales", wrap_up_seconds=5.0),):
            acd.configure_queue(config, clock())
        for order, (agent_id, skills) in enumerate(agents.items()):
            acd.add_agent(Agent(agent_id, skills, contact=f"user/{agent_id}", order=order))
            acd.agent_login(agent_id, clock())
        shell = AcdShell(acd, control, hub, metrics, clock=clock)
        segments = CallSegments(lambda _call: HoldTotal(), metrics)
        shell.on_bridged(segments.bridged)
        yield Rig(fs, control, Legs(control), shell, hub, metrics, session_factory(engine), clock, segments)
    finally:
        fs.close()
        engine.dispose()

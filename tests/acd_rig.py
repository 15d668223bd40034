"""A hotline rig for ACD scenarios: one flow that queues by the caller's first key, queues and agents
seeded with chosen settings, and waiting helpers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import gevent
from gevent.queue import Queue

from engine.store import agents, queue_settings, queues, skills
from tests.hotline_rig import Rig, seed, start_rig

FLOW = """\
flow: main
nodes:
  pick:
    menu: "Press 1 for sales, 2 for backup."
    choices:
      - key: 1
        goto: sales
      - key: 2
        goto: backup
    on_failure: sales
  sales:
    queue: sales
  backup:
    queue: backup
"""
OVERFLOW_FLOW = """\
flow: overflow
nodes:
  sorry:
    say: "Everyone is still busy. Trying our backup team."
  backup:
    queue: backup
"""


class SkipClock:
    """The ACD's clock for a test: real time plus the seconds the test skipped.  A delay long
    enough that no loaded machine reaches it by itself is checked, then skipped (``skip``), so a
    test never races a fraction of a second of real time."""

    def __init__(self) -> None:
        self.skipped = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.skipped

    def skip(self, seconds: float) -> None:
        self.skipped += seconds


@contextmanager
def acd_rig(
    tmp_path: Path,
    db_url: str,
    agent_skills: dict[str, dict[str, int]],
    queue_options: dict[str, dict[str, Any]],
    config: dict[str, Any] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Rig]:
    """Queues ``sales`` and ``backup`` (options: ``queues.create_queue`` keywords and
    ``queue_settings`` settings), agents with skills; the ``main`` and ``overflow`` flows above;
    ``config``: settings of the engine's configuration; ``clock``: the ACD's (e.g. a SkipClock)."""
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "main.yaml").write_text(FLOW)
    (flows / "overflow.yaml").write_text(OVERFLOW_FLOW)

    def seeder(s: Any) -> None:
        for name in {"sales", "backup", *(k for levels in agent_skills.values() for k in levels)}:
            skills.create_skill(s, name)
        for name in ("backup", "sales"):
            options = dict(queue_options.get(name, {}))
            settings = {k: options.pop(k) for k in list(options) if k in queue_settings.SETTINGS}
            options.setdefault("wrap_up_seconds", 0)
            options.setdefault("required_skills", {name: 1})
            queues.create_queue(s, name, **options)
            queue_settings.set_settings(s, name, **settings)
        for agent_id, levels in agent_skills.items():
            agents.create_agent(s, agent_id, name=agent_id, contact=f"user/{agent_id}", skills=levels)

    seed(db_url, seeder)
    yield from start_rig(tmp_path, db_url, list(agent_skills), flows_dir=flows, config=config, clock=clock)


def wait_until(condition: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds (generous: a
    passing wait returns as soon as the condition holds, and a loaded machine may take seconds)."""
    with gevent.Timeout(timeout, AssertionError(f"timed out waiting for {what}")):
        while not (result := condition()):
            gevent.sleep(0.005)
    return result


def next_state(feed: Queue, timeout: float = 20.0) -> dict[str, Any]:
    """The next agent_state message on an agent's feed."""
    while True:
        message = feed.get(timeout=timeout)
        if message["kind"] == "agent_state":
            return message["data"]


def talking(rig: Rig, agent_id: str) -> bool:
    """The agent is on a call that hotline has bridged (its session has been told)."""
    call_id = rig.engine.acd.acd.snapshot().agents[agent_id].call_id
    return call_id is not None and call_id in rig.engine.acd.agent_legs


def login(rig: Rig, agent_id: str) -> str:
    """Log the agent in with their own token; their state after it (``reserved`` if a call waited)."""
    status, body = rig.api("POST", f"/api/agents/{agent_id}/login", rig.agent_tokens[agent_id])
    assert status == 200, body
    return body["state"]


def relogin(rig: Rig, agent_id: str) -> None:
    token = rig.agent_tokens[agent_id]
    assert rig.api("POST", f"/api/agents/{agent_id}/logout", token)[0] == 200
    rig.ready(agent_id)

"""Routing latency of engine.acd.core.Acd at contact-centre scale.

Builds 5,000 agents with 3 of 50 skills each (levels 1..10), 50 queues (one per
skill, mixed strategies), bridges a call to every agent and leaves 2,000 calls
waiting; then times single routing decisions:

* agent frees up: ``call_ended`` on a bridged call (zero wrap-up), so the agent
  picks the best of the waiting calls it can take and gets an offer;
* call arrives, all agents busy: ``enqueue`` that only queues;
* call arrives, agents idle: ``enqueue`` on a second ACD where every agent is ready;
* worst case: one queue whose 5,000 agents are all ready and eligible.

Then times the queries the runtime asks (one agent, the counts by state, one queue's status)
against :meth:`Acd.snapshot` (a deep copy of everything, for tests and diagnostics only) on the
first ACD, with its 5,000 agents and 7,000 calls.

The set-up asks only O(1) questions (:meth:`Acd.agent_counts`), so it grows linearly with the
number of agents.

Run: ``PYTHONPATH=. python bench/acd_routing.py [AGENTS]``.  Prints p50/p99/max in microseconds.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import TypeVar

from engine.acd import commands
from engine.acd.core import Acd
from engine.acd.model import Agent, QueueConfig, Strategy
from engine.acd.states import AgentState

T = TypeVar("T")
AGENTS = int(sys.argv[1]) if len(sys.argv) > 1 else 5_000
SKILLS = 50
WAITING = 2_000
SAMPLES = 2_000
STRATEGIES = [
    Strategy.LONGEST_IDLE,
    Strategy.MOST_SKILLED,
    Strategy.FEWEST_CALLS,
    Strategy.SKILL_WEIGHTED,
    Strategy.ROUND_ROBIN,
]


def build(rng: random.Random, queues: list[QueueConfig], skills_of: Callable[[int], dict[str, int]]) -> Acd:
    acd = Acd(seed=1)
    for queue in queues:
        acd.configure_queue(queue, 0)
    for n in range(AGENTS):
        acd.add_agent(Agent(f"agent-{n}", skills_of(n), contact=f"user/{n}", order=n))
        acd.agent_login(f"agent-{n}", 0)
    return acd


def offers(out: list[commands.Command]) -> list[commands.Offer]:
    return [c for c in out if isinstance(c, commands.Offer)]


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter_ns()
    out = fn()
    return (time.perf_counter_ns() - start) / 1000, out


def report(name: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    print(
        f"{name:<48} n={len(samples):>5}  p50={statistics.median(ordered):8.1f} us  "
        f"p99={p99:8.1f} us  max={ordered[-1]:8.1f} us"
    )


def main() -> None:
    rng = random.Random(2024)
    skills = [f"skill-{s}" for s in range(SKILLS)]
    queues = [
        QueueConfig(
            f"queue-{s}",
            skill,
            min_level=rng.randint(1, 3),
            wrap_up_seconds=0,
            strategy=STRATEGIES[s % len(STRATEGIES)],
        )
        for s, skill in enumerate(skills)
    ]

    def three_skills(_: int) -> dict[str, int]:
        return {skill: rng.randint(3, 10) for skill in rng.sample(skills, 3)}

    start = time.perf_counter()
    acd = build(rng, queues, three_skills)
    now, call_no = 1.0, 0
    bridged: list[str] = []
    for _ in range(2 * AGENTS):
        call_no += 1
        for offer in offers(acd.enqueue(f"call-{call_no}", rng.choice(queues).name, rng.randint(0, 2), now)):
            acd.offer_answered(offer.offer_id, now)
            bridged.append(offer.call_id)
        if not acd.agent_counts()[AgentState.READY]:
            break
    waiting = 0
    while waiting < WAITING:
        call_no += 1
        now += 0.001
        assert not offers(acd.enqueue(f"call-{call_no}", rng.choice(queues).name, rng.randint(0, 2), now))
        waiting += 1
    print(
        f"setup: {AGENTS} agents, {SKILLS} skills, {len(bridged)} bridged, {waiting} waiting "
        f"({time.perf_counter() - start:.1f} s)"
    )

    freed: list[float] = []
    for _ in range(SAMPLES):
        now += 0.01
        call_id = bridged.pop(rng.randrange(len(bridged)))
        elapsed, out = timed(lambda c=call_id, t=now: acd.call_ended(c, t))
        freed.append(elapsed)
        for offer in offers(out):
            acd.offer_answered(offer.offer_id, now)
            bridged.append(offer.call_id)
        call_no += 1
        acd.enqueue(f"call-{call_no}", rng.choice(queues).name, rng.randint(0, 2), now)
    report("agent frees up, 2,000 calls waiting", freed)

    queued: list[float] = []
    for _ in range(SAMPLES):
        now += 0.01
        call_no += 1
        elapsed, _ = timed(lambda c=f"call-{call_no}", t=now: acd.enqueue(c, rng.choice(queues).name, 0, t))
        queued.append(elapsed)
    report("call arrives, all agents busy", queued)

    some = [f"agent-{rng.randrange(AGENTS)}" for _ in range(SAMPLES)]
    report("query: agent(id)", [timed(lambda a=a: acd.agent(a))[0] for a in some])
    report("query: agent_counts()", [timed(acd.agent_counts)[0] for _ in range(SAMPLES)])
    names = [rng.choice(queues).name for _ in range(SAMPLES)]
    report("query: queue_status(one of 50 queues)", [timed(lambda q=q: acd.queue_status(q, now))[0] for q in names])
    snap = acd.snapshot()
    print(f"snapshot(): {len(snap.agents)} agents, {len(snap.calls)} calls, {len(snap.offers)} offers")
    report("snapshot() (tests and diagnostics only)", [timed(acd.snapshot)[0] for _ in range(5)])

    idle = build(rng, queues, three_skills)
    report("call arrives, ~300 idle eligible agents", arrivals(idle, rng, [q.name for q in queues]))

    one = build(rng, [QueueConfig("all", "all", wrap_up_seconds=0)], lambda _: {"all": rng.randint(1, 10)})
    report("call arrives, 5,000 idle eligible agents (worst)", arrivals(one, rng, ["all"]))


def arrivals(acd: Acd, rng: random.Random, names: list[str]) -> list[float]:
    """Time enqueue while agents are idle: each call is offered, then failed fast to keep agents idle."""
    samples: list[float] = []
    now = 10.0
    for n in range(SAMPLES):
        now += 0.01
        elapsed, out = timed(lambda c=f"idle-{n}", t=now: acd.enqueue(c, rng.choice(names), 0, t))
        samples.append(elapsed)
        for offer in offers(out):
            acd.offer_answered(offer.offer_id, now)
        acd.call_ended(f"idle-{n}", now)
    return samples


if __name__ == "__main__":
    main()

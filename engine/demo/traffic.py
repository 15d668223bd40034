"""Synthetic contact-centre data and traffic for the demo and what-if runs (seeded, repeatable)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlalchemy.orm import Session

from engine.emulator import Caller, Phone
from engine.store import agents, customers, queues, skills

SKILLS = ("sales", "support", "billing", "vip")
# (queue, required skill) as the shipped main flow names them.
QUEUES = (("sales", "sales"), ("support", "support"), ("billing", "billing"), ("vip", "vip"))
# Main-menu keys and how often callers choose them: 1 sales, 2 support, 3 ticket status (self-service).
MENU = (("1", 0.35), ("2", 0.45), ("3", 0.05), ("0", 0.15))


@dataclass(frozen=True)
class Profile:
    """How the simulated people behave (seconds are simulated seconds)."""

    answer_delay: tuple[float, float] = (1.0, 4.0)
    no_answer_share: float = 0.05
    patience: tuple[float, float] = (40.0, 240.0)
    talk: tuple[float, float] = (60.0, 240.0)
    vip_share: float = 0.1


def seed_database(session: Session, n_agents: int, region: str, rng: random.Random) -> list[str]:
    """Skills, the flow's queues, ``n_agents`` agents (1001...) and some known customers."""
    for name in SKILLS:
        skills.create_skill(session, name)
    for queue, skill in QUEUES:
        queues.create_queue(session, queue, wrap_up_seconds=15, required_skills={skill: 1})
    ids = []
    for n in range(n_agents):
        agent_id = str(1001 + n)
        levels = {s: rng.randint(3, 10) for s in ("sales", "support", "billing")}
        if n % 3 == 0:
            levels["vip"] = rng.randint(6, 10)
        agents.create_agent(session, agent_id, name=f"Agent {agent_id}", contact=f"user/{agent_id}", skills=levels)
        ids.append(agent_id)
    for n in range(40):
        tier = "vip" if n < 4 else "normal"
        customers.create_customer(session, f"Customer {n:02d}", region=region, numbers=[f"1390013{n:04d}"], tier=tier)
    return ids


def phone(agent_id: str, profile: Profile, rng: random.Random) -> Phone:
    behaviour = "no_answer" if rng.random() < profile.no_answer_share else "answer"
    return Phone(agent_id, answer_delay=rng.uniform(*profile.answer_delay), behaviour=behaviour)


def caller(n: int, profile: Profile, rng: random.Random) -> Caller:
    """The n-th caller: a known customer (some VIP) or a stranger, with a menu choice and patience."""
    known = rng.random() < 0.5
    number = f"1390013{rng.randrange(40) if known else 1000 + n:04d}"
    keys, weights = zip(*MENU, strict=True)
    choice = rng.choices(keys, weights)[0]
    script = [choice] if choice != "3" else [choice, "123456#", "1"]
    return Caller(
        number,
        script=script,
        patience_seconds=rng.uniform(*profile.patience),
        talk_seconds=rng.uniform(*profile.talk),
    )

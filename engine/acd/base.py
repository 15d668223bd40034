"""The ACD's records and indexes, shared by the modules that make up :class:`~engine.acd.core.Acd`.

Only :mod:`engine.acd.states` decides a state change; the mixins of :mod:`engine.acd.core` apply it to
these tables.  Nothing outside :mod:`engine.acd` touches them.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sortedcontainers import SortedList

from engine.acd import commands
from engine.acd.gone import GoneCalls
from engine.acd.model import Agent, Offer, QueueConfig, QueuedCall
from engine.acd.states import (
    AgentEvent,
    AgentState,
    OfferEvent,
)
from engine.acd.strategies import QUEUE_CHOICES, QueueChoice, RoutingState

Rule = tuple[str, int]
"""A call accepts agents having skill ``rule[0]`` at level >= ``rule[1]``."""

STAFFED = frozenset({AgentState.READY, AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP, AgentState.ENGAGED})
ENGAGE_EVENTS = {"dial": AgentEvent.DIAL, "consult": AgentEvent.CONSULT}
TIMER_SLACK = 256
"""Timers the heap may hold beyond four per live agent, call and offer before dead ones are dropped."""
FAILURE_EVENTS = {
    "no_answer": OfferEvent.NO_ANSWER,
    "busy": OfferEvent.BUSY,
    "rejected": OfferEvent.REJECT,
    "failed": OfferEvent.FAIL,
}


class UnknownAgent(KeyError):
    """No agent with this id was added."""


class UnknownQueue(KeyError):
    """No queue with this name was configured."""


class _Timer(StrEnum):
    AVAILABLE = "available"
    WRAP_UP = "wrap_up"
    ESCALATE = "escalate"
    MAX_WAIT = "max_wait"
    OFFER_GUARD = "offer_guard"
    CONFIRM = "confirm"
    RETRY = "retry"


@dataclass(slots=True)
class QueueStats:
    """Running totals for one queue."""

    arrived: int = 0
    answered: int = 0
    abandoned: int = 0
    exited: int = 0
    completed: int = 0
    talk_seconds: float = 0.0
    wrap_ups: int = 0
    wrap_up_seconds: float = 0.0

    def average_handle_seconds(self) -> float | None:
        """Mean talk time plus mean wrap-up time; None before the first completed call."""
        if not self.completed:
            return None
        wrap = self.wrap_up_seconds / self.wrap_ups if self.wrap_ups else 0.0
        return self.talk_seconds / self.completed + wrap


class AcdBase:
    """Every record and index of the ACD, and the plumbing the other parts share."""

    def __init__(
        self,
        *,
        queue_choice: QueueChoice = QueueChoice.LONGEST_WAITING,
        seed: int = 0,
        offer_grace_seconds: float = 5.0,
        reset_confirm_seconds: float = 10.0,
    ) -> None:
        """``offer_grace_seconds``: how long past its ring timeout an offer nobody reported on
        is failed as no_answer.  ``reset_confirm_seconds``: how long after :meth:`reset`
        a bridged call not reconfirmed is ended."""
        self._queue_choice = QUEUE_CHOICES[QueueChoice(queue_choice)]
        self._routing = RoutingState(rng=random.Random(seed))
        self._offer_grace = offer_grace_seconds
        self._reset_confirm = reset_confirm_seconds
        self._now = -math.inf
        self._out: list[commands.Command] = []
        self._queues: dict[str, QueueConfig] = {}
        self._stats: dict[str, QueueStats] = {}
        self._agents: dict[str, Agent] = {}
        self._calls: dict[str, QueuedCall] = {}
        self._offers: dict[str, Offer] = {}
        self._call_seq = itertools.count()
        self._offer_seq = itertools.count(1)
        self._timer_seq = itertools.count()
        self._timers: list[tuple[float, int, _Timer, str, int]] = []
        self._timers_limit = TIMER_SLACK  # the heap's size that triggers dropping dead timers
        # Indexes (derived from the records above).
        self._queues_by_skill: dict[str, set[str]] = {}
        self._members: dict[str, set[str]] = {}
        self._agent_queues: dict[str, set[str]] = {}
        self._staffed: dict[str, int] = {}
        self._available: dict[str, dict[str, Agent]] = {}
        # For RANK_KEYS strategies: the queue's available agents by (key, id), and each one's key.
        self._ranked: dict[str, SortedList] = {}
        self._rank_keys: dict[tuple[str, str], tuple[Any, ...]] = {}
        self._available_by_skill: dict[str, dict[str, Agent]] = {}
        self._indexed_agents: set[str] = set()
        self._waiting: dict[str, SortedList] = {}
        self._widened: dict[str, SortedList] = {}
        self._rules: dict[str, frozenset[Rule]] = {}
        self._dirty_agents: dict[str, None] = {}
        self._dirty_calls: dict[str, None] = {}
        # Abandoned callers who may resume their place: (caller, queue) -> (enqueued_at, until).
        self._resumable: dict[tuple[str, str], tuple[float, float]] = {}
        self._resume_expiry: list[tuple[float, tuple[str, str]]] = []
        self._gone = GoneCalls()  # calls whose caller's channel is gone: never enqueued or offered again
        # For the queries (engine/acd/queries.py): agents by state, overall and per queue; each queue's calls.
        self._state_counts: dict[AgentState, int] = dict.fromkeys(AgentState, 0)
        self._member_counts: dict[str, dict[AgentState, int]] = {}
        self._queue_calls: dict[str, set[str]] = {}

    # ------------------------------------------------------------------ internals: plumbing

    def _flush(self) -> list[commands.Command]:
        out, self._out = self._out, []
        return out

    def _agent(self, agent_id: str) -> Agent:
        try:
            return self._agents[agent_id]
        except KeyError:
            raise UnknownAgent(f"agent {agent_id!r} was never added") from None

    def _queue(self, name: str) -> QueueConfig:
        try:
            return self._queues[name]
        except KeyError:
            raise UnknownQueue(f"queue {name!r} is not configured") from None

    def _schedule(self, at: float, kind: _Timer, key: str, arg: int = 0) -> None:
        heapq.heappush(self._timers, (at, next(self._timer_seq), kind, key, arg))
        if len(self._timers) > self._timers_limit:
            self._drop_dead_timers()

    def _drop_dead_timers(self) -> None:
        """Forget the timers of calls and offers the ACD no longer holds (they would fire as no-ops).

        Timers are never removed when what they were set for ends, so without this the heap would keep
        one entry per call for up to ``max_wait_seconds`` after it ended (9,000 at 30 calls/s with the
        default 300 s). Run when the heap outgrows what is live; amortised O(1) per timer."""

        def alive(kind: _Timer, key: str) -> bool:
            if kind in (_Timer.AVAILABLE, _Timer.WRAP_UP):
                return key in self._agents
            return key in (self._offers if kind is _Timer.OFFER_GUARD else self._calls)

        self._timers = [t for t in self._timers if alive(t[2], t[3])]
        heapq.heapify(self._timers)
        live = len(self._agents) + len(self._calls) + len(self._offers)
        # At least as many pushes as timers kept before the next pass (many live timers: no pass per push).
        self._timers_limit = max(TIMER_SLACK + 4 * live, 2 * len(self._timers))

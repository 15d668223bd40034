"""Per-agent publish/subscribe for desktop feeds.

Each agent may have several desktops open; every one gets every message for that agent and no
message for anyone else. A subscriber that stops reading cannot stall the engine: its queue is
bounded and, once full, the oldest message is dropped (a desktop that reconnects gets the latest
screen pop again from ``current``).

What a desktop is shown is decided when it reads, not when the engine publishes (the pop is built
before anyone knows which agent gets the call): a subscription's ``view`` (for the desktop feed,
the reader's :meth:`engine.store.visibility.Viewer.screen_pop`) rewrites each message it hands out,
the replayed sticky pop included.
"""

from __future__ import annotations

import itertools
import json
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from gevent.queue import Empty, Full, Queue


@dataclass(frozen=True)
class FeedMessage:
    """One message on an agent's feed; ``id`` increases per hub, for SSE ``Last-Event-ID``."""

    id: int
    kind: str
    data: dict[str, Any]
    at: float

    def to_sse(self) -> bytes:
        return f"id: {self.id}\nevent: {self.kind}\ndata: {json.dumps(self.data, default=str)}\n\n".encode()


View = Callable[[str, dict[str, Any]], dict[str, Any]]
"""``view(kind, data)``: the message data as one reader may see it."""


@dataclass(eq=False)
class Subscription:
    """One open desktop connection; ``view`` (if any) rewrites every message it hands out."""

    agent_id: str
    hub: Hub
    queue: Queue = field(default_factory=lambda: Queue(maxsize=100))
    view: View | None = None

    def get(self, timeout: float | None = None) -> FeedMessage | None:
        """The next message, or ``None`` after ``timeout`` seconds with nothing (send a keep-alive)."""
        try:
            message: FeedMessage = self.queue.get(timeout=timeout)
        except Empty:
            return None
        return message if self.view is None else replace(message, data=self.view(message.kind, message.data))

    def close(self) -> None:
        self.hub._subscribers[self.agent_id].discard(self)


class Hub:
    """Routes messages to the subscriptions of one agent."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = defaultdict(set)
        self._ids = itertools.count(1)
        self.current: dict[str, FeedMessage] = {}

    def subscribe(self, agent_id: str, view: View | None = None) -> Subscription:
        """A new desktop connection of ``agent_id``, shown each message through ``view``."""
        sub = Subscription(agent_id, self, view=view)
        self._subscribers[agent_id].add(sub)
        if agent_id in self.current:
            sub.queue.put_nowait(self.current[agent_id])
        return sub

    def subscribers(self, agent_id: str) -> int:
        return len(self._subscribers.get(agent_id, ()))

    def publish(self, agent_id: str, kind: str, data: dict[str, Any], *, sticky: bool = False) -> int:
        """Send to every desktop of ``agent_id``; returns how many received it.

        A ``sticky`` message (the screen pop of the call in progress) is replayed to desktops that
        connect later, until :meth:`clear` is called for that agent.
        """
        message = FeedMessage(next(self._ids), kind, data, time.time())
        if sticky:
            self.current[agent_id] = message
        delivered = 0
        for sub in list(self._subscribers.get(agent_id, ())):
            while True:
                try:
                    sub.queue.put_nowait(message)
                    break
                except Full:
                    sub.queue.get_nowait()
            delivered += 1
        return delivered

    def clear(self, agent_id: str) -> None:
        self.current.pop(agent_id, None)

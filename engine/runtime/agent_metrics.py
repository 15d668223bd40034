"""Live agent metrics: occupancy per queue and per agent, seconds per state, wrap-up per queue.

Fed by the ACD's state changes (:meth:`AcdShell.on_agent_state`) and bridges; the numbers are
computed by :class:`engine.acd.occupancy.StateHistory` at scrape time with the shell's clock.
"""

from __future__ import annotations

from engine.acd import commands
from engine.acd.occupancy import StateHistory, combine
from engine.acd.states import AgentState
from engine.metrics import Metrics, OccupancySample
from engine.runtime.acd_shell import AcdShell


class AgentMetrics:
    """Keeps every agent's state history and exports it on ``metrics``."""

    def __init__(self, shell: AcdShell, metrics: Metrics, *, window_seconds: float) -> None:
        self.shell = shell
        self.metrics = metrics
        self.history = StateHistory(window_seconds)
        self._last_queue: dict[str, str] = {}  # agent -> queue of the call they took last
        self._wrap_started: dict[str, float] = {}
        shell.on_agent_state(self._state_changed)
        shell.on_bridged(self._bridged)
        metrics.watch_occupancy(self.sample)

    def _bridged(self, _call_id: str, agent_id: str, queue: str) -> None:
        self._last_queue[agent_id] = queue

    def _state_changed(self, change: commands.AgentStateChanged) -> None:
        self.history.record(change.agent_id, str(change.new), change.at)
        queue = self._last_queue.get(change.agent_id)
        if change.old is AgentState.WRAP_UP and queue is not None:
            since = self._wrap_started.pop(change.agent_id, change.at)
            self.metrics.wrap_seconds.labels(queue).observe(change.at - since)
        if change.new is AgentState.WRAP_UP:
            self._wrap_started[change.agent_id] = change.at

    def sample(self) -> OccupancySample:
        now = self.shell.clock()
        acd = self.shell.acd
        seconds = self.history.window_all(now)
        queues = {name: combine(seconds[a] for a in acd.members(name) if a in seconds) for name in acd.queue_names()}
        agents = {agent: combine([spans]) for agent, spans in seconds.items()}
        return OccupancySample(self.history.window, queues, agents, self.history.seconds_by_state(now))

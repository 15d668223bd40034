"""After an engine restart: agents restored from the state log, bridged calls adopted from FreeSWITCH.

Every agent starts ``logged_out`` in a new engine. The shell (:mod:`engine.runtime.adopt`) reads what
the database logged last for each agent and what FreeSWITCH still carries, then feeds the ACD these
events, all in the AGENT and CALL tables (:mod:`engine.acd.states`):

- :meth:`Restore.adopt_call`: the agent's phone is bridged to a caller hotline had queued; the call is
  held again as ``bridged`` (``queued --adopt--> bridged``, never offered) and the agent is ``on_call``
  (``logged_out --adopt--> on_call``). When it ends it is a completed call like any other (wrap-up).
- :meth:`Restore.phone_busy`: the agent was logged in and their phone holds a call hotline cannot
  adopt: ``engaged`` until :meth:`~engine.acd.core.Acd.engaged_call_ended`.
- :meth:`Restore.restore_agent`: the agent's last logged state: ``ready`` again unless they were on
  break (same reason) or logged out.

Adopt and phone_busy first, restore last: an agent whose phone holds a call is never ``ready``, not
even between two events.
"""

from __future__ import annotations

from engine.acd import commands
from engine.acd.base import AcdBase
from engine.acd.model import QueuedCall
from engine.acd.states import AgentEvent, AgentState, CallEvent, Machine, transition

LOGGED_IN = frozenset(s.value for s in AgentState) - {AgentState.LOGGED_OUT.value, AgentState.BREAK.value}
"""Logged states that come back as ``ready`` (a call or an offer in progress then is over or adopted)."""


class Restore(AcdBase):
    """The restart events; they apply only to agents still ``logged_out`` since the engine started."""

    def restore_agent(self, agent_id: str, state: str, reason: str, now: float) -> list[commands.Command]:
        """The agent's last logged ``state`` (``reason``: a break's reason): ``break`` -> break, any other
        logged-in state -> ready (reason ``restored``), ``logged_out`` -> unchanged. Agents no longer
        logged out (adopted, engaged, logged in since) are left as they are; unknown states raise."""
        agent = self._agent(agent_id)
        if state not in LOGGED_IN | {AgentState.LOGGED_OUT.value, AgentState.BREAK.value}:
            raise ValueError(f"restore_agent({agent_id!r}).state: {state!r} is not an agent state")
        self._advance(now)
        if agent.state is AgentState.LOGGED_OUT and state != AgentState.LOGGED_OUT:
            if state == AgentState.BREAK:
                self._agent_event(agent, AgentEvent.RESTORE_BREAK, now, reason or "break")
            else:
                agent.no_answer_count, agent.available_at = 0, now
                self._agent_event(agent, AgentEvent.RESTORE, now, "restored")
        self._route()
        return self._flush()

    def phone_busy(self, agent_id: str, now: float) -> list[commands.Command]:
        """The logged-out agent's phone holds a call the ACD did not route: ``engaged`` (reason
        ``phone_busy``) until :meth:`engaged_call_ended`."""
        agent = self._agent(agent_id)
        self._advance(now)
        self._agent_event(agent, AgentEvent.PHONE_BUSY, now, "phone_busy")
        self._route()
        return self._flush()

    def adopt_call(
        self,
        call_id: str,
        queue: str,
        priority: int,
        agent_id: str,
        *,
        enqueued_at: float,
        bridged_at: float,
        now: float,
        caller: str = "",
    ) -> list[commands.Command]:
        """FreeSWITCH still bridges ``call_id`` (which joined ``queue`` at ``enqueued_at``) to the
        logged-out ``agent_id`` since ``bridged_at`` (ACD clock, both <= ``now``): hold it as bridged
        and the agent ``on_call``. Checked before anything changes: unknown queue or agent, a call
        already held, an agent not logged out, a priority that is not an integer, times in the future."""
        self._queue(queue)
        agent = self._agent(agent_id)
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise ValueError(f"adopt_call({call_id!r}).priority: must be an integer, got {priority!r}")
        if call_id in self._calls or call_id in self._gone:
            raise ValueError(f"adopt_call({call_id!r}).call_id: the call is already known to the ACD")
        if not enqueued_at <= bridged_at <= now:
            raise ValueError(f"adopt_call({call_id!r}): needs enqueued_at <= bridged_at <= now")
        transition(Machine.AGENT, agent.state, AgentEvent.ADOPT, agent_id)
        self._advance(now)
        call = QueuedCall(
            call_id=call_id, queue=queue, priority=priority, enqueued_at=enqueued_at, caller=caller,
            seq=next(self._call_seq),
        )  # fmt: skip
        call.state = transition(Machine.CALL, call.state, CallEvent.ADOPT, call_id)
        self._arrive(call, self._queues[queue])
        self._stats[queue].answered += 1
        call.agent_id, call.bridged_at = agent_id, bridged_at
        agent.call_id, agent.no_answer_count = call_id, 0
        self._agent_event(agent, AgentEvent.ADOPT, now, "adopted")
        self._route()
        return self._flush()

"""What a call the ACD took out of its queue does next, as the flow action that does it.

A queue's exit target (``number:``, ``agent:``, ``flow:``, ``queue:``) becomes a transfer or a new queue;
``callback`` keeps the caller's place: the caller confirms their number (or keys another), a virtual call
takes their place in the queue and rings them back (engine/runtime/callbacks.py); when there is no
number to call or the request cannot be stored, and for every other target, the caller leaves a message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from engine.ivr import actions as a
from engine.runtime.acd_shell import LeftQueue
from engine.runtime.callbacks import CallbackRequest
from engine.runtime.ivr_executor import IvrExecutor
from engine.store.callbacks import dialable
from engine.store.errors import StoreError

if TYPE_CHECKING:  # call_session uses this module
    from engine.runtime.call_session import CallTrace

log = logging.getLogger(__name__)

VOICEMAIL_PROMPT = "Sorry, all our agents are still busy. Please leave a message after the tone."
CONFIRM_NUMBER_PROMPT = "We will call you back on {number}. To confirm, press 1. To give another number, press 2."
ENTER_NUMBER_PROMPT = "Please key the number to call you back on, then press the hash key."
KEPT_PROMPT = "Thank you. You keep your place in the queue, and we will call you back when an agent is free. Goodbye."


@dataclass
class QueueExit:
    """One call's way out of its queue: ``name`` names the call in the log."""

    trace: CallTrace
    executor: IvrExecutor
    clock: Callable[[], float]  # the ACD's clock, the one ``LeftQueue.enqueued_at`` is on
    request_callback: Callable[[CallbackRequest], int]
    name: str

    def next_action(self, left: LeftQueue, queued: a.Queue) -> a.Action:
        """The action the call takes after leaving ``queued`` for ``left.target``."""
        kind, _, name = left.target.partition(":")
        if kind in ("number", "agent"):
            return a.Transfer(kind, name)
        if kind == "flow":
            return a.Transfer("flow", name)
        if kind == "queue":
            return a.Queue(name, name, queued.priority)
        if kind == "callback" and left.enqueued_at is not None:
            number = self._callback_number()
            if number and self._keep_place(number, queued, left.enqueued_at):
                self.executor.perform(a.Say(KEPT_PROMPT))
                return a.Hangup(outcome="transferred")
        self.executor.perform(a.Say(VOICEMAIL_PROMPT))
        message = self.executor.perform(a.Record(f"voicemail-{queued.queue}", 120, 200, 5))
        assert isinstance(message, a.RecordResult)
        reason = f"{queued.queue}: {left.reason}"
        return a.Callback(self.trace.caller, reason, message.path if message.seconds else None)

    def _callback_number(self) -> str | None:
        """The number to call back: the caller id once the caller confirms it, or one they key in;
        None when there is none (the caller then leaves a message)."""
        caller = self.trace.caller if dialable(self.trace.caller) else None
        if caller is not None:
            prompt = a.Say(CONFIRM_NUMBER_PROMPT.format(number=" ".join(caller)))
            choice = self.executor.perform(a.CollectDigits((prompt,), 1, 1, 5000, 0, ""))
            assert isinstance(choice, a.DigitsResult)
            if choice.digits != "2":
                return caller
        keyed = self.executor.perform(a.CollectDigits((a.Say(ENTER_NUMBER_PROMPT),), 3, 20, 10000, 3000, "#"))
        assert isinstance(keyed, a.DigitsResult)
        return keyed.digits if dialable(keyed.digits) else caller

    def _keep_place(self, number: str, queued: a.Queue, enqueued_at: float) -> bool:
        """Hand the caller's place to a virtual call that rings them back on ``number``; False when the
        request could not be stored (the caller then leaves a message instead)."""
        t = self.trace
        waited = self.clock() - enqueued_at
        request = CallbackRequest(
            call_uuid=t.uuid, queue=queued.queue, priority=queued.priority, enqueued_at=enqueued_at,
            queued_at=datetime.now(UTC) - timedelta(seconds=waited), number=number, caller=t.caller,
            customer_id=t.customer["id"] if t.customer else None,
        )  # fmt: skip
        try:
            callback_id = self.request_callback(request)
        except (SQLAlchemyError, StoreError):
            log.exception("%s: the callback request could not be stored; voicemail instead", self.name)
            return False
        log.info("%s: callback %s on %s keeps its place in %s", self.name, callback_id, number, queued.queue)
        return True

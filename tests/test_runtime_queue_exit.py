"""A call's way out of its queue: transfers, another queue, keep-your-place callbacks, voicemail.

The executor is scripted (what the caller keys, what the recording holds); the whole path over ESL is in
tests/test_runtime_call_session.py (a caller choosing a callback, a callback that cannot be stored).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engine.ivr import actions as a
from engine.runtime.acd_shell import LeftQueue
from engine.runtime.call_session import CallTrace
from engine.runtime.callbacks import CallbackRequest
from engine.runtime.queue_exit import (
    CONFIRM_NUMBER_PROMPT,
    ENTER_NUMBER_PROMPT,
    KEPT_PROMPT,
    VOICEMAIL_PROMPT,
    QueueExit,
)
from engine.store.errors import StoreError

QUEUED = a.Queue("sales", "sales", 3)


class Executor:
    """Performs nothing: records each action and answers from ``keys`` (digits) and ``seconds`` (recorded)."""

    def __init__(self, keys: list[str], seconds: float = 4.0) -> None:
        self.keys, self.seconds, self.performed = keys, seconds, []

    def perform(self, action: a.Action) -> a.Result:
        self.performed.append(action)
        if isinstance(action, a.CollectDigits):
            return a.DigitsResult(self.keys.pop(0))
        if isinstance(action, a.Record):
            return a.RecordResult(f"/rec/{action.path_hint}.wav", self.seconds)
        return a.PlayResult()

    def said(self) -> list[str]:
        """The texts spoken, in order (Say actions, and the prompts of digit collections)."""
        spoken: list[str] = []
        for action in self.performed:
            if isinstance(action, a.Say):
                spoken.append(action.text)
            elif isinstance(action, a.CollectDigits):
                spoken += [p.text for p in action.prompts if isinstance(p, a.Say)]
        return spoken


def way_out(
    caller: str, keys: list[str], store: Callable[[CallbackRequest], int] | None = None, seconds: float = 4.0
) -> tuple[QueueExit, Executor, list[CallbackRequest]]:
    requests: list[CallbackRequest] = []

    def stored(request: CallbackRequest) -> int:
        requests.append(request)
        return 7

    executor = Executor(keys, seconds)
    trace = CallTrace("call-1", caller, "4000", customer={"id": 42})
    return QueueExit(trace, executor, lambda: 100.0, store or stored, "call call-1"), executor, requests  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("target", "action"),
    [
        ("number:1300", a.Transfer("number", "1300")),
        ("agent:1001", a.Transfer("agent", "1001")),
        ("flow:after_hours", a.Transfer("flow", "after_hours")),
        ("queue:billing", a.Queue("billing", "billing", 3)),
    ],
)
def test_an_exit_target_becomes_the_action_that_takes_the_caller_there(target, action) -> None:
    exit_, executor, _ = way_out("13900000001", [])
    assert exit_.next_action(LeftQueue("max_wait", target, 40.0), QUEUED) == action
    assert executor.performed == []  # nothing said: the next action speaks for itself


def test_a_confirmed_caller_id_keeps_the_place_with_the_time_already_waited() -> None:
    exit_, executor, requests = way_out("13900000001", ["1"])
    action = exit_.next_action(LeftQueue("key", "callback", 40.0), QUEUED)
    assert action == a.Hangup(outcome="transferred")
    [request] = requests
    assert (request.number, request.queue, request.priority, request.enqueued_at) == ("13900000001", "sales", 3, 40.0)
    assert request.customer_id == 42 and request.call_uuid == "call-1"
    assert executor.said() == [CONFIRM_NUMBER_PROMPT.format(number="1 3 9 0 0 0 0 0 0 0 1"), KEPT_PROMPT]


def test_a_caller_who_gives_another_number_is_called_back_on_it() -> None:
    exit_, executor, requests = way_out("13900000001", ["2", "13800000002"])
    assert exit_.next_action(LeftQueue("key", "callback", 40.0), QUEUED) == a.Hangup(outcome="transferred")
    assert [r.number for r in requests] == ["13800000002"]
    assert executor.said()[1] == ENTER_NUMBER_PROMPT


def test_without_a_number_to_call_or_a_stored_request_the_caller_leaves_a_message() -> None:
    def broken(_request: CallbackRequest) -> int:
        raise StoreError("callbacks: database is locked")

    for caller, keys, store in (("anonymous", ["12"], None), ("13900000001", ["1"], broken)):
        exit_, executor, _ = way_out(caller, keys, store)
        action = exit_.next_action(LeftQueue("key", "callback", 40.0), QUEUED)
        assert action == a.Callback(caller, "sales: key", "/rec/voicemail-sales.wav")
        assert executor.said()[-1] == VOICEMAIL_PROMPT and KEPT_PROMPT not in executor.said()


def test_an_empty_message_is_a_callback_request_without_a_recording() -> None:
    exit_, _, requests = way_out("13900000001", [], seconds=0)
    assert exit_.next_action(LeftQueue("max_wait", "voicemail", 40.0), QUEUED) == a.Callback(
        "13900000001", "sales: max_wait", None
    )
    assert requests == []

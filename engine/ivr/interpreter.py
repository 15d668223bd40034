"""The sans-IO flow interpreter: `FlowRun` emits one action at a time and is resumed with its result.

No I/O happens here. Retry counters, escalating noinput/nomatch prompts, DTMF and keyword matching, and
sub-flow call/return all live inside the run; the shell only performs actions and reports what came back.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from engine.ivr.actions import (
    Action,
    Callback,
    CollectDigits,
    DigitsResult,
    Done,
    FaxResult,
    Hangup,
    Lookup,
    LookupResult,
    Play,
    PlayResult,
    Prompt,
    Queue,
    Recognise,
    Record,
    RecordResult,
    Result,
    Say,
    SendFax,
    SpeechResult,
    Transfer,
    is_terminal,
)
from engine.ivr.expressions import compile_expression, compile_template, lookup_path
from engine.ivr.flow import Flow, Scope
from engine.ivr.schema import (
    BranchStep,
    CallbackStep,
    CallStep,
    Case,
    CollectStep,
    EndStep,
    FaxStep,
    GotoStep,
    HangupStep,
    LookupStep,
    MenuStep,
    MessageStep,
    PlayStep,
    PromptItem,
    QueueStep,
    RecogniseStep,
    ReturnStep,
    SayStep,
    SetStep,
    Step,
    SurveyStep,
    TransferStep,
)

MAX_SILENT_STEPS = 1000
_template = lru_cache(maxsize=4096)(compile_template)
_expression = lru_cache(maxsize=4096)(compile_expression)
_EXPECTED: dict[type, tuple[type, ...]] = {
    Play: (PlayResult,),
    Say: (PlayResult,),
    CollectDigits: (DigitsResult,),
    Recognise: (SpeechResult, DigitsResult),
    Lookup: (LookupResult,),
    Record: (RecordResult,),
    SendFax: (FaxResult,),
}


@dataclass(frozen=True, slots=True)
class CallContext:
    """Who is calling: numbers, the call's uuid and initial variables (e.g. `agent` for a survey)."""

    caller: str
    called: str = ""
    uuid: str = ""
    variables: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One thing the run did: node, step type, prompts spoken, the caller's input, and what followed."""

    node: str
    step: str
    prompts: tuple[str, ...] = ()
    input: str | None = None
    outcome: str = ""

    def __str__(self) -> str:
        parts = [f"{self.node:<24} {self.step:<9}"]
        parts.extend(f"«{p}»" for p in self.prompts)
        if self.input is not None:
            parts.append(f"input={self.input!r}")
        parts.append(f"-> {self.outcome}")
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class SurveyScore:
    """A survey answer for the shell to store against the call and the agent."""

    question: str
    score: int
    call_uuid: str
    agent: str | None


def describe_prompt(prompt: Prompt) -> str:
    """Short text of a prompt for traces: the TTS text, or `play:<file>`."""
    return prompt.text if isinstance(prompt, Say) else "play:" + ",".join(prompt.items)


class FlowRun:
    """One caller's journey through one flow."""

    def __init__(self, flow: Flow, call: CallContext, clock: Callable[[], datetime]) -> None:
        self.flow = flow
        self.call = call
        self.clock = clock
        self.variables: dict[str, Any] = {
            **flow.variables,
            "caller": call.caller,
            "called": call.called,
            "call_uuid": call.uuid,
            **call.variables,
        }
        self.trace: list[TraceEntry] = []
        self.outcome: str | None = None
        self.survey: list[SurveyScore] = []
        self._scope: Scope = flow.main
        self._node: str = flow.main.start
        self._stack: list[tuple[Scope, str]] = []
        self._pending: Action | None = None
        self._outbox: deque[Action] = deque()
        self._entered = False
        self._noinput = 0
        self._nomatch = 0
        self._confirming = False
        self._answered: Action | None = None

    # ---- public driving API ------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        """True once a terminal action was emitted (or the caller hung up)."""
        return self.outcome is not None

    @property
    def node(self) -> str:
        """The current node, qualified (`subflow/node` inside a sub-flow)."""
        return self._scope.qualified(self._node)

    def start(self) -> Action:
        """Run from the start node to the first action."""
        if self._pending is not None or self.finished or self.trace:
            raise RuntimeError("FlowRun.start() called twice")
        return self._drive(None)

    def resume(self, result: Result) -> Action:
        """Feed the result of the last action and get the next one."""
        if self.finished:
            raise RuntimeError(f"flow '{self.flow.name}' already ended ({self.outcome})")
        pending = self._pending
        if pending is None:
            raise RuntimeError("resume() before start()")
        expected = _EXPECTED[type(pending)]
        if not isinstance(result, expected) or (
            isinstance(pending, Recognise) and isinstance(result, DigitsResult) and not pending.dtmf_digits
        ):
            raise TypeError(
                f"{self.node}: {type(pending).__name__} expects {expected[0].__name__}, got {type(result).__name__}"
            )
        self._pending = None
        if isinstance(pending, Play | Say) and self._outbox:
            return self._drive(self._outbox.popleft())
        step = self._step()
        self._answered = pending
        action = getattr(self, _HANDLERS[type(step)][1])(step, result)
        self._answered = None
        return self._drive(action)

    def abandon(self) -> None:
        """The caller hung up: the run ends with outcome 'abandoned'."""
        if not self.finished:
            self._trace(self._step_name(), outcome="abandoned", input="hangup")
            self.outcome = "abandoned"
            self._pending = None

    # ---- engine ----------------------------------------------------------------------------------------
    def _drive(self, action: Action | None) -> Action:
        silent = 0
        while action is None:
            silent += 1
            if silent > MAX_SILENT_STEPS:
                self._trace(self._step_name(), outcome="too many steps without the caller; hanging up")
                action = Hangup("NORMAL_TEMPORARY_FAILURE")
                break
            if not self._entered:
                self._entered = True
                self._noinput = self._nomatch = 0
                self._confirming = False
                step = self._step()
                action = getattr(self, _HANDLERS[type(step)][0])(step)
            else:
                raise RuntimeError(f"{self.node}: step produced no action and did not move")
        if is_terminal(action):
            self.outcome = action.outcome
        else:
            self._pending = action
        return action

    def _step(self) -> Step:
        return self._scope.nodes[self._node]

    def _step_name(self) -> str:
        return _HANDLERS[type(self._step())][2]

    def _goto(self, target: str) -> None:
        self._node = target
        self._entered = False

    def _continue(self) -> Action | None:
        """Go on to the node after the current one, returning from sub-flows that end."""
        following = self._scope.following[self._node]
        while following is None and self._stack:
            self._scope, call_node = self._stack.pop()
            self._node = call_node
            following = self._scope.following[call_node]
        if following is None:
            return Done("self_served")
        self._goto(following)
        return None

    def _trace(
        self,
        step: str,
        *,
        prompts: tuple[Prompt, ...] | None = None,
        input: str | None = None,
        outcome: str = "",
    ) -> None:
        """Record what happened; prompts default to those of the action just answered."""
        if prompts is None:
            answered = self._answered
            prompts = (answered,) if isinstance(answered, Play | Say) else getattr(answered, "prompts", ())
        self.trace.append(TraceEntry(self.node, step, tuple(describe_prompt(p) for p in prompts), input, outcome))

    def _render(self, text: str) -> str:
        return _template(text).render(self.variables) if "{" in text else text

    def _prompt(self, item: PromptItem, step: Any) -> Prompt:
        if item.play is not None:
            return Play((self._render(item.play),))
        language = item.language or getattr(step, "language", None) or self.flow.language
        voice = item.voice or getattr(step, "voice", None) or self.flow.voice
        return Say(self._render(item.say or ""), language, voice, item.as_)

    def _prompts(self, items: tuple[PromptItem, ...], step: Any) -> tuple[Prompt, ...]:
        return tuple(self._prompt(i, step) for i in items)

    def _sequence(self, actions: list[Action]) -> Action:
        """Emit the first action now and the rest after each PlayResult."""
        self._outbox = deque(actions[1:])
        return actions[0]

    # ---- retries (menu, collect, recognise, survey) ---------------------------------------------------
    def _main_prompts(self, step: MenuStep | CollectStep | RecogniseStep | SurveyStep) -> tuple[PromptItem, ...]:
        if isinstance(step, MenuStep):
            return step.menu
        if isinstance(step, CollectStep):
            return step.collect
        if isinstance(step, RecogniseStep):
            return step.recognise
        return step.survey

    def _failed(
        self, step: MenuStep | CollectStep | RecogniseStep | SurveyStep, kind: str, heard: str
    ) -> Action | None:
        """Count a failed attempt; retry with the escalated prompt, or give up to on_failure."""
        if kind == "noinput":
            self._noinput += 1
            count, escalation = self._noinput, step.noinput
        else:
            self._nomatch += 1
            count, escalation = self._nomatch, (() if kind == "rejected" else step.nomatch)
        used = self._noinput + self._nomatch
        name = self._step_name()
        if used >= step.attempts:
            target = step.on_failure
            self._trace(
                name,
                input=heard,
                outcome=f"{kind} {used}/{step.attempts}: attempts used up -> {target or 'next'}",
            )
            if target is None:
                return self._continue()
            self._goto(target)
            return None
        self._trace(name, input=heard, outcome=f"{kind} {used}/{step.attempts}: retry")
        items = (escalation[min(count, len(escalation)) - 1],) if escalation else ()
        if step.reprompt or not items:
            items = (*items, *self._main_prompts(step))
        return self._ask(step, self._prompts(items, step))

    def _ask(self, step: Any, prompts: tuple[Prompt, ...]) -> Action:
        if isinstance(step, MenuStep):
            words = tuple(w for c in step.choices for w in c.words)
            if words:
                return Recognise(
                    prompts,
                    "keywords",
                    step.language or self.flow.language,
                    step.timeout,
                    words,
                    dtmf_digits=1,
                )
            return CollectDigits(prompts, 1, 1, step.timeout, step.timeout, "")
        if isinstance(step, CollectStep):
            return CollectDigits(
                prompts, step.min, step.max, step.timeout, step.inter_digit, step.terminator, step.regex
            )
        if isinstance(step, RecogniseStep):
            grammar = None if step.grammar == "free" else step.grammar
            return Recognise(prompts, grammar, step.language or self.flow.language, step.timeout)
        return CollectDigits(prompts, 1, 1, step.timeout, step.timeout, "", f"^[{step.lowest}-{step.highest}]$")

    def _enter_waiting(self, step: MenuStep | CollectStep | RecogniseStep | SurveyStep) -> Action:
        return self._ask(step, self._prompts(self._main_prompts(step), step))

    # ---- step handlers ---------------------------------------------------------------------------------
    def _menu_result(self, step: MenuStep, result: DigitsResult | SpeechResult) -> Action | None:
        if isinstance(result, DigitsResult):
            heard = result.digits
            choice = next((c for c in step.choices if c.key is not None and c.key == heard), None)
        else:
            heard = "say:" + result.text if result.text else ""
            text = result.text.lower()
            choice = (
                None
                if result.confidence < step.confidence
                else next(
                    (c for c in step.choices if any(re.search(rf"\b{re.escape(w.lower())}\b", text) for w in c.words)),
                    None,
                )
            )
        if not heard:
            return self._failed(step, "noinput", "")
        if choice is None:
            return self._failed(step, "nomatch", heard)
        for name, value in choice.set.items():
            self.variables[name] = self._value(value)
        self._trace("menu", input=heard, outcome=f"goto {choice.goto}")
        self._goto(choice.goto)
        return None

    def _collect_result(self, step: CollectStep, result: DigitsResult) -> Action | None:
        digits = result.digits
        if self._confirming:
            self._confirming = False
            if digits == "1":
                self._trace("collect", input=digits, outcome=f"confirmed {step.into}={self.variables[step.into]}")
                return self._continue()
            return self._failed(step, "rejected" if digits else "noinput", digits)
        if not digits:
            return self._failed(step, "noinput", "")
        if not step.min <= len(digits) <= step.max or (step.regex and not re.fullmatch(step.regex, digits)):
            return self._failed(step, "nomatch", digits)
        self.variables[step.into] = digits
        if step.confirm:
            self._confirming = True
            self._trace("collect", input=digits, outcome="confirm")
            return CollectDigits(self._prompts(step.confirm, step), 1, 1, step.timeout, step.timeout, "")
        self._trace("collect", input=digits, outcome=f"{step.into}={digits}")
        return self._continue()

    def _recognise_result(self, step: RecogniseStep, result: SpeechResult) -> Action | None:
        if not result.text:
            return self._failed(step, "noinput", "")
        if result.confidence < step.confidence:
            return self._failed(step, "nomatch", f"say:{result.text}@{result.confidence:.2f}")
        self.variables[step.into] = result.text
        self._trace("recognise", input=f"say:{result.text}", outcome=f"{step.into}={result.text!r}")
        return self._continue()

    def _survey_result(self, step: SurveyStep, result: DigitsResult) -> Action | None:
        if not result.digits:
            return self._failed(step, "noinput", "")
        if not (result.digits.isdigit() and step.lowest <= int(result.digits) <= step.highest):
            return self._failed(step, "nomatch", result.digits)
        score = int(result.digits)
        self.variables[step.question] = score
        agent = self.variables.get("agent")
        self.survey.append(SurveyScore(step.question, score, self.call.uuid, str(agent) if agent else None))
        self._trace("survey", input=result.digits, outcome=f"{step.question}={score}")
        return self._continue()

    def _enter_play(self, step: PlayStep) -> Action:
        return Play(tuple(self._render(item) for item in step.play))

    def _enter_say(self, step: SayStep) -> Action:
        return Say(
            self._render(step.say),
            step.language or self.flow.language,
            step.voice or self.flow.voice,
            step.as_,
        )

    def _spoken(self, step: PlayStep | SayStep, result: PlayResult) -> Action | None:
        del step, result
        self._trace(self._step_name(), outcome="next")
        return self._continue()

    def _value(self, value: Any) -> Any:
        if isinstance(value, str) and value.startswith("="):
            return _expression(value[1:]).evaluate(self.variables)
        return self._render(value) if isinstance(value, str) else value

    def _enter_set(self, step: SetStep) -> Action | None:
        for name, value in step.set.items():
            self.variables[name] = self._value(value)
        self._trace("set", outcome=", ".join(f"{k}={self.variables[k]!r}" for k in step.set))
        return self._continue()

    def _matches(self, case: Case, now: datetime) -> bool:
        if case.if_ is not None and not _expression(case.if_).evaluate(self.variables):
            return False
        minute = now.hour * 60 + now.minute
        if case.time is not None and not any(
            (a <= minute < b) if a < b else (minute >= a or minute < b) for a, b in case.time
        ):
            return False
        if case.weekday is not None and now.weekday() not in case.weekday:
            return False
        if case.holiday is not None:
            day = now.date().isoformat()
            if (day in self.flow.holidays or day[5:] in self.flow.holidays) != case.holiday:
                return False
        tier = str(lookup_path(self.variables, "customer.tier") or "").lower()
        return case.tier is None or tier in {t.lower() for t in case.tier}

    def _enter_branch(self, step: BranchStep) -> Action | None:
        now = self.clock()
        target = next((c.goto for c in step.branch if self._matches(c, now)), step.else_)
        self._trace("branch", outcome=f"goto {target}")
        self._goto(target)
        return None

    def _enter_goto(self, step: GotoStep) -> Action | None:
        self._trace("goto", outcome=f"goto {step.goto}")
        self._goto(step.goto)
        return None

    def _enter_call(self, step: CallStep) -> Action | None:
        self._trace("call", outcome=f"call sub-flow {step.call}")
        self._stack.append((self._scope, self._node))
        self._scope = self.flow.subflows[step.call]
        self._goto(self._scope.start)
        return None

    def _enter_return(self, step: ReturnStep) -> Action | None:
        del step
        self._trace("return", outcome="return")
        if not self._stack:
            return Done("self_served")
        self._scope, self._node = self._stack.pop()
        return self._continue()

    def _enter_lookup(self, step: LookupStep) -> Action:
        return Lookup(step.lookup, self._render(step.key or "{caller}"))

    def _lookup_result(self, step: LookupStep, result: LookupResult) -> Action | None:
        self.variables[step.into or step.lookup] = dict(result.data)
        found = bool(result.data)
        self._trace(
            "lookup",
            input=self._render(step.key or "{caller}"),
            outcome=f"{step.lookup} {'found' if found else 'not found'}",
        )
        if not found and step.not_found:
            self._goto(step.not_found)
            return None
        return self._continue()

    def _enter_queue(self, step: QueueStep) -> Action:
        self._trace("queue", outcome=f"queued {step.queue} priority {step.priority}")
        return Queue(step.queue, step.skill or step.queue, step.priority)

    def _enter_transfer(self, step: TransferStep) -> Action:
        target = self._render(step.to)
        self._trace("transfer", outcome=f"transfer to {step.transfer} {target}")
        return Transfer(step.transfer, target)

    def _enter_message(self, step: MessageStep) -> Action:
        record = Record(
            f"voicemail/{self.call.uuid or 'call'}",
            step.max_seconds,
            step.silence_threshold,
            step.silence_seconds,
            step.beep,
        )
        return self._sequence([*self._prompts(step.message, step), record])

    def _message_result(self, step: MessageStep, result: RecordResult) -> Action | None:
        self.variables["recording"] = result.path
        if result.seconds < 1 and step.on_empty:
            self._trace("message", input="record:0", outcome=f"empty message -> {step.on_empty}")
            self._goto(step.on_empty)
            return None
        self._trace(
            "message",
            prompts=self._prompts(step.message, step),
            input=f"record:{result.seconds:g}",
            outcome="voicemail -> callback task",
        )
        callback = Callback(self._render(step.number), self._render(step.reason), result.path, "voicemail")
        return self._sequence([*self._prompts(step.goodbye, step), callback])

    def _enter_callback(self, step: CallbackStep) -> Action:
        number = self._render(step.callback)
        self._trace("callback", prompts=self._prompts(step.goodbye, step), outcome=f"callback to {number}")
        return self._sequence([*self._prompts(step.goodbye, step), Callback(number, self._render(step.reason))])

    def _enter_fax(self, step: FaxStep) -> Action:
        return SendFax(self._render(step.fax), self._render(step.to) if step.to else None)

    def _fax_result(self, step: FaxStep, result: FaxResult) -> Action | None:
        self.variables["fax_ok"] = result.ok
        self._trace(
            "fax",
            input="ok" if result.ok else "failed",
            outcome=f"fax {self._render(step.fax)} {'sent' if result.ok else 'failed'}",
        )
        if not result.ok and step.on_failure:
            self._goto(step.on_failure)
            return None
        return self._continue()

    def _enter_hangup(self, step: HangupStep) -> Action:
        self._trace("hangup", outcome=f"hangup {step.hangup}")
        return Hangup(step.hangup, step.outcome)

    def _enter_end(self, step: EndStep) -> Action:
        self._trace("end", outcome=step.end)
        return Done(step.end)


#: step class -> (enter handler, result handler, step keyword)
_HANDLERS: dict[type, tuple[str, str, str]] = {
    MenuStep: ("_enter_waiting", "_menu_result", "menu"),
    CollectStep: ("_enter_waiting", "_collect_result", "collect"),
    RecogniseStep: ("_enter_waiting", "_recognise_result", "recognise"),
    SurveyStep: ("_enter_waiting", "_survey_result", "survey"),
    PlayStep: ("_enter_play", "_spoken", "play"),
    SayStep: ("_enter_say", "_spoken", "say"),
    SetStep: ("_enter_set", "", "set"),
    BranchStep: ("_enter_branch", "", "branch"),
    GotoStep: ("_enter_goto", "", "goto"),
    CallStep: ("_enter_call", "", "call"),
    ReturnStep: ("_enter_return", "", "return"),
    LookupStep: ("_enter_lookup", "_lookup_result", "lookup"),
    QueueStep: ("_enter_queue", "", "queue"),
    TransferStep: ("_enter_transfer", "", "transfer"),
    MessageStep: ("_enter_message", "_message_result", "message"),
    CallbackStep: ("_enter_callback", "", "callback"),
    FaxStep: ("_enter_fax", "_fax_result", "fax"),
    HangupStep: ("_enter_hangup", "", "hangup"),
    EndStep: ("_enter_end", "", "end"),
}

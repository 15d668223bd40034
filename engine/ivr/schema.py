"""The shape of a flow file: every step type and field, with types, defaults and limits (pydantic models).

Cross-node checks (goto targets, reachability, loops, variables, audio files) live in `validate.py`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from engine.ivr.actions import Outcome, SayAs

VAR_NAME = r"^[a-z_][a-z0-9_]*$"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*$")
_TIME_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_AUDIO_SUFFIXES = (".wav", ".mp3", ".ogg", ".gsm", ".ulaw", ".alaw", ".g722", ".flac")


def _to_ms(value: Any) -> int:
    """'5s', '500ms', '1.5s' or a number of seconds -> milliseconds."""
    if isinstance(value, bool):
        raise ValueError("a duration is written like 5s or 500ms")
    if isinstance(value, int | float):
        return int(value * 1000)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"duration {value!r} should be written like 5s or 500ms")
    number = float(match.group(1))
    return int(number if match.group(2) == "ms" else number * 1000)


Duration = Annotated[int, BeforeValidator(_to_ms), Field(ge=100, le=600_000)]
VarName = Annotated[str, Field(pattern=VAR_NAME)]


def _to_time_range(value: Any) -> tuple[int, int]:
    if isinstance(value, tuple):
        return value
    match = _TIME_RANGE.match(str(value)) if isinstance(value, str) else None
    if not match:
        raise ValueError(f'time range {value!r} should be written like "08:00-18:00" (in quotes)')
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59 or (h1 == 24 and m1) or (h2 == 24 and m2):
        raise ValueError(f"time range {value!r} has an impossible time")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == end:
        raise ValueError(f"time range {value!r} starts and ends at the same time")
    return start, end


TimeRange = Annotated[tuple[int, int], BeforeValidator(_to_time_range)]


def _to_weekdays(value: Any) -> frozenset[int]:
    """'mon-fri', 'sat,sun', ['mon', 'wed'] -> {0..6} (Monday = 0)."""
    if isinstance(value, frozenset):
        return value
    items = value if isinstance(value, list) else str(value).split(",")
    days: set[int] = set()
    for item in items:
        text = str(item).strip().lower()
        first, _, last = text.partition("-")
        if first[:3] not in _DAYS or (last and last[:3] not in _DAYS):
            raise ValueError(f"weekday {item!r} should be mon, tue, wed, thu, fri, sat, sun or a range like mon-fri")
        a, b = _DAYS.index(first[:3]), _DAYS.index((last or first)[:3])
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return frozenset(days)


Weekdays = Annotated[frozenset[int], BeforeValidator(_to_weekdays)]


def _to_holiday(value: Any) -> str:
    """A date 2024-12-25 (that day only) or 12-25 (every year) -> 'YYYY-MM-DD' or 'MM-DD'."""
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    try:
        if len(text) == 5:
            dt.date.fromisoformat(f"2000-{text}")
        else:
            dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"holiday {value!r} should be a date like 2024-12-25 or 12-25 (every year)") from None
    return text


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, frozen=True)


class PromptItem(_Model):
    """One prompt: `play` an audio file / tone_stream:// URL, or `say` text (as number, date...)."""

    play: str | None = None
    say: str | None = None
    as_: SayAs = Field("text", alias="as")
    language: str | None = None
    voice: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> PromptItem:
        if (self.play is None) == (self.say is None):
            raise ValueError("a prompt needs exactly one of 'play' or 'say'")
        return self


def _to_prompts(value: Any) -> Any:
    """A string, one prompt mapping, or a list of them -> list; bare strings that name audio become `play`."""
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, str):
            is_audio = item.startswith(("tone_stream://", "/")) or item.lower().endswith(_AUDIO_SUFFIXES)
            out.append({"play": item} if is_audio else {"say": item})
        else:
            out.append(item)
    return out


Prompts = Annotated[tuple[PromptItem, ...], BeforeValidator(_to_prompts)]


class _Retrying(_Model):
    """Fields shared by every step that waits for the caller (VoiceXML-style noinput/nomatch handling)."""

    timeout: Duration = 5000
    noinput: Prompts = ()
    nomatch: Prompts = ()
    attempts: int = Field(3, ge=1, le=10)
    on_failure: str | None = None
    reprompt: bool = True
    language: str | None = None
    voice: str | None = None


class Choice(_Model):
    """One menu option: a DTMF key and/or spoken words, where to go, and variables to set."""

    key: str | None = None
    words: tuple[str, ...] = ()
    goto: str
    set: dict[Annotated[str, Field(pattern=VAR_NAME)], Any] = {}

    @field_validator("key")
    @classmethod
    def _one_key(cls, key: str | None) -> str | None:
        if key is not None and not re.fullmatch(r"[0-9*#]", key):
            raise ValueError(f"menu key {key!r} must be one of 0-9, * or #")
        return key

    @field_validator("words", mode="before")
    @classmethod
    def _listify(cls, words: Any) -> Any:
        return [words] if isinstance(words, str) else words

    @model_validator(mode="after")
    def _has_trigger(self) -> Choice:
        if self.key is None and not self.words:
            raise ValueError("a choice needs a 'key' or 'words' (or both)")
        return self


class MenuStep(_Retrying):
    """Offer choices by key or by voice."""

    menu: Prompts
    confidence: float = Field(0.5, ge=0.0, le=1.0)
    choices: tuple[Choice, ...] = Field(min_length=1)


class CollectStep(_Retrying):
    """Collect digits into a variable."""

    collect: Prompts
    into: VarName
    min: int = Field(1, ge=1, le=64)
    max: int = Field(20, ge=1, le=64)
    terminator: str = "#"
    inter_digit: Duration = 3000
    regex: str | None = None
    confirm: Prompts | None = None
    next: str | None = None

    @field_validator("terminator")
    @classmethod
    def _terminators(cls, value: str) -> str:
        if not re.fullmatch(r"[0-9*#]*", value):
            raise ValueError(f"terminator {value!r} may only contain 0-9, * and #")
        return value


class RecogniseStep(_Retrying):
    """Recognise speech into a variable (`grammar: free` for free text)."""

    recognise: Prompts
    into: VarName
    grammar: str = "free"
    confidence: float = Field(0.5, ge=0.0, le=1.0)
    next: str | None = None


class SurveyStep(_Retrying):
    """Ask for a score 1-5 (or `lowest`..`highest`) and store it against the call and agent."""

    survey: Prompts
    question: VarName
    lowest: int = Field(1, ge=0, le=9)
    highest: int = Field(5, ge=0, le=9)
    next: str | None = None


class PlayStep(_Model):
    play: Annotated[tuple[str, ...], BeforeValidator(lambda v: [v] if isinstance(v, str) else v)]
    next: str | None = None


class SayStep(_Model):
    say: str
    as_: SayAs = Field("text", alias="as")
    language: str | None = None
    voice: str | None = None
    next: str | None = None


class SetStep(_Model):
    set: dict[Annotated[str, Field(pattern=VAR_NAME)], Any]
    next: str | None = None


class Case(_Model):
    """One branch case: every condition given must hold."""

    if_: str | None = Field(None, alias="if")
    time: Annotated[tuple[TimeRange, ...], BeforeValidator(lambda v: [v] if isinstance(v, str) else v)] | None = None
    weekday: Weekdays | None = None
    holiday: bool | None = None
    tier: Annotated[tuple[str, ...], BeforeValidator(lambda v: [v] if isinstance(v, str) else v)] | None = None
    goto: str

    @model_validator(mode="after")
    def _has_condition(self) -> Case:
        if all(v is None for v in (self.if_, self.time, self.weekday, self.holiday, self.tier)):
            raise ValueError("a case needs at least one of: if, time, weekday, holiday, tier")
        return self


class BranchStep(_Model):
    branch: tuple[Case, ...] = Field(min_length=1)
    else_: str = Field(alias="else")


class GotoStep(_Model):
    goto: str


class CallStep(_Model):
    call: str
    next: str | None = None


class ReturnStep(_Model):
    return_: Any = Field(None, alias="return")


class LookupStep(_Model):
    lookup: Literal["customer", "open_tickets", "ticket_status"]
    key: str | None = None
    into: VarName | None = None
    not_found: str | None = None
    next: str | None = None


class QueueStep(_Model):
    queue: str
    skill: str | None = None
    priority: int = Field(0, ge=0, le=100)


class TransferStep(_Model):
    transfer: Literal["number", "flow", "agent"]
    to: str


class MessageStep(_Model):
    message: Prompts
    max_seconds: int = Field(120, ge=5, le=3600)
    silence_seconds: int = Field(5, ge=1, le=60)
    silence_threshold: int = Field(200, ge=0, le=10_000)
    beep: bool = True
    number: str = "{caller}"
    reason: str = "voicemail"
    goodbye: Prompts = ()
    on_empty: str | None = None


class CallbackStep(_Model):
    callback: str
    reason: str = "callback requested"
    goodbye: Prompts = ()


class FaxStep(_Model):
    fax: str
    to: str | None = None
    on_failure: str | None = None
    next: str | None = None


class HangupStep(_Model):
    hangup: str = "NORMAL_CLEARING"
    outcome: Outcome = "hangup"


class EndStep(_Model):
    end: Outcome


Step = (
    PlayStep
    | SayStep
    | MenuStep
    | CollectStep
    | RecogniseStep
    | SurveyStep
    | SetStep
    | BranchStep
    | GotoStep
    | CallStep
    | ReturnStep
    | LookupStep
    | QueueStep
    | TransferStep
    | MessageStep
    | CallbackStep
    | FaxStep
    | HangupStep
    | EndStep
)

#: step keyword -> model; a node is a mapping holding exactly one of these keywords.
STEP_MODELS: dict[str, type[_Model]] = {
    "play": PlayStep,
    "say": SayStep,
    "menu": MenuStep,
    "collect": CollectStep,
    "recognise": RecogniseStep,
    "survey": SurveyStep,
    "set": SetStep,
    "branch": BranchStep,
    "goto": GotoStep,
    "call": CallStep,
    "return": ReturnStep,
    "lookup": LookupStep,
    "queue": QueueStep,
    "transfer": TransferStep,
    "message": MessageStep,
    "callback": CallbackStep,
    "fax": FaxStep,
    "hangup": HangupStep,
    "end": EndStep,
}
#: steps after which the flow does not continue to `next`.
FINAL_STEPS = (
    GotoStep,
    ReturnStep,
    QueueStep,
    TransferStep,
    MessageStep,
    CallbackStep,
    HangupStep,
    EndStep,
    BranchStep,
    MenuStep,
)


class FlowTest(_Model):
    """A dry-run scenario carried by the flow file itself."""

    name: str
    caller: str = "+441632960000"
    called: str = "+441632960999"
    time: dt.datetime = dt.datetime(2024, 5, 6, 10, 0)
    variables: dict[str, Any] = {}
    inputs: tuple[str, ...] = ()
    lookups: dict[str, dict[str, Any]] = {}
    expect_outcome: Outcome | None = None
    expect_nodes: tuple[str, ...] = ()
    expect_said: tuple[str, ...] = ()
    expect_action: dict[str, Any] = {}
    expect_variables: dict[str, Any] = {}


class SubflowDoc(_Model):
    start: str | None = None
    nodes: dict[str, dict[str, Any]] = Field(min_length=1)


class FlowDoc(_Model):
    """The top level of a flow file; `nodes` are checked one by one against STEP_MODELS."""

    flow: str | None = None
    description: str | None = None
    start: str | None = None
    language: str = "en-GB"
    voice: str | None = None
    variables: dict[Annotated[str, Field(pattern=VAR_NAME)], Any] = {}
    holidays: tuple[Annotated[str, BeforeValidator(_to_holiday)], ...] = ()
    nodes: dict[str, dict[str, Any]] = Field(min_length=1)
    subflows: dict[Annotated[str, Field(pattern=VAR_NAME)], SubflowDoc] = {}
    tests: tuple[FlowTest, ...] = ()

"""What the IVR interpreter asks the shell to do (actions) and what the shell reports back (results).

Every class is a frozen dataclass so that actions can be compared, logged and replayed. A prompt is
either a `Play` (files / tone_stream:// URLs) or a `Say` (text for TTS); the shell decides how to render.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, TypeAlias

SayAs = Literal["text", "number", "amount", "date", "time", "digits"]
Outcome = Literal["queued", "self_served", "abandoned", "transferred", "voicemail", "callback", "hangup"]
OUTCOMES: tuple[str, ...] = (
    "queued",
    "self_served",
    "abandoned",
    "transferred",
    "voicemail",
    "callback",
    "hangup",
)


@dataclass(frozen=True, slots=True)
class Play:
    """Play audio files or tone_stream:// URLs in order."""

    items: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Say:
    """Speak text by TTS; `say_as` asks the shell to pronounce a number, amount, date, time or digits."""

    text: str
    language: str = "en-GB"
    voice: str | None = None
    say_as: SayAs = "text"


Prompt: TypeAlias = Play | Say


@dataclass(frozen=True, slots=True)
class CollectDigits:
    """Play prompts (barge-in) and collect DTMF digits; answered by `DigitsResult`."""

    prompts: tuple[Prompt, ...]
    min_digits: int
    max_digits: int
    timeout_ms: int
    inter_digit_ms: int
    terminators: str
    regex: str | None = None


@dataclass(frozen=True, slots=True)
class Recognise:
    """Play prompts and recognise speech; answered by SpeechResult (or DigitsResult if dtmf_digits>0)."""

    prompts: tuple[Prompt, ...]
    grammar: str | None
    language: str
    timeout_ms: int
    keywords: tuple[str, ...] = ()
    dtmf_digits: int = 0


@dataclass(frozen=True, slots=True)
class Lookup:
    """Ask the CRM; answered by `LookupResult` (empty data = not found)."""

    kind: Literal["customer", "open_tickets", "ticket_status"]
    key: str


@dataclass(frozen=True, slots=True)
class Record:
    """Record the caller after an optional beep; answered by `RecordResult`."""

    path_hint: str
    max_seconds: int
    silence_threshold: int
    silence_seconds: int
    beep: bool = True


@dataclass(frozen=True, slots=True)
class SendFax:
    """Fax a document to this line (`to_number` None) or another number; answered by FaxResult."""

    document: str
    to_number: str | None


@dataclass(frozen=True, slots=True)
class Queue:
    """TERMINAL: put the call in an ACD queue for a skill."""

    queue: str
    skill: str
    priority: int
    outcome: Outcome = "queued"
    terminal: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class Transfer:
    """TERMINAL: transfer to a number, another flow, or a named agent."""

    kind: Literal["number", "flow", "agent"]
    target: str
    outcome: Outcome = "transferred"
    terminal: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class Hangup:
    """TERMINAL: hang up with a Q.850 cause name such as NORMAL_CLEARING."""

    cause: str = "NORMAL_CLEARING"
    outcome: Outcome = "hangup"
    terminal: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class Callback:
    """TERMINAL: create a callback task (with the recorded message when there is one), then hang up."""

    number: str
    reason: str
    recording: str | None = None
    outcome: Outcome = "callback"
    terminal: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class Done:
    """TERMINAL: the flow has finished; the shell hangs up or returns the call to whoever started the flow."""

    outcome: Outcome
    terminal: ClassVar[bool] = True


Action: TypeAlias = (
    Play | Say | CollectDigits | Recognise | Lookup | Record | SendFax | Queue | Transfer | Hangup | Callback | Done
)
TERMINAL_ACTIONS: tuple[type, ...] = (Queue, Transfer, Hangup, Callback, Done)


@dataclass(frozen=True, slots=True)
class PlayResult:
    """A Play or Say finished."""


@dataclass(frozen=True, slots=True)
class DigitsResult:
    """Digits the caller keyed ('' = no input) and the terminator pressed, if any."""

    digits: str
    terminator: str | None = None


@dataclass(frozen=True, slots=True)
class SpeechResult:
    """What the recogniser heard ('' = no input) and its confidence 0..1."""

    text: str
    confidence: float = 1.0


@dataclass(frozen=True, slots=True)
class LookupResult:
    """CRM answer; an empty dict means nothing was found."""

    data: dict


@dataclass(frozen=True, slots=True)
class RecordResult:
    """Where the recording was stored and how long it is."""

    path: str
    seconds: float


@dataclass(frozen=True, slots=True)
class FaxResult:
    """Whether the fax was delivered."""

    ok: bool


Result: TypeAlias = PlayResult | DigitsResult | SpeechResult | LookupResult | RecordResult | FaxResult


def is_terminal(action: Action) -> bool:
    """True when the action ends the flow (the run accepts no further results)."""
    return isinstance(action, TERMINAL_ACTIONS)

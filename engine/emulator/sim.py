"""Simulated people: callers with a script of answers, and agent phones with a behaviour."""

from __future__ import annotations

from dataclasses import dataclass, field

PHONE_BEHAVIOURS = ("answer", "no_answer", "busy", "reject", "unregistered")


@dataclass
class Phone:
    """An agent's SIP phone reached as ``user/<ext>``."""

    ext: str
    answer_delay: float = 0.5
    behaviour: str = "answer"
    talk_seconds: float | None = None  # hang up this long after answering; None: never
    hold_after: float | None = None  # press hold this long after answering; None: never
    hold_seconds: float = 10.0  # ... and resume this long after that

    def __post_init__(self) -> None:
        if self.behaviour not in PHONE_BEHAVIOURS:
            raise ValueError(f"Phone {self.ext}: behaviour {self.behaviour!r} not one of {PHONE_BEHAVIOURS}")
        if (self.hold_after is not None and self.hold_after < 0) or self.hold_seconds < 0:
            raise ValueError(f"Phone {self.ext}: hold_after and hold_seconds must not be negative")


@dataclass
class Caller:
    """A caller: ``script`` answers collect/speech prompts in order ('1', '12#', 'say:billing', 'noinput')."""

    number: str
    script: list[str] = field(default_factory=list)
    patience_seconds: float | None = None  # hang up if not bridged to someone by then
    talk_seconds: float | None = None  # hang up this long after being bridged
    hangup_after_bridge: bool | None = None  # sets the channel variable when given
    name: str = ""

    def next_input(self) -> str:
        """The next scripted answer; ``noinput`` once the script is used up."""
        return self.script.pop(0) if self.script else "noinput"


PARTY_KINDS = ("live", "machine", "no_answer", "busy")
AMD_VERDICTS = ("HUMAN", "MACHINE", "NOTSURE")


@dataclass
class CalledParty:
    """Whoever answers an outbound call to ``number`` through a gateway (``sofia/gateway/<gw>/<number>``).

    ``live``: a person answers after ``answer_delay``, hangs up ``talk_seconds`` after being bridged, or
    ``patience_seconds`` after answering when nobody is bridged to them. ``machine``: an answering machine
    answers, plays a greeting of ``greeting_seconds`` then beeps and records for ``record_seconds``.
    ``amd_seconds`` is how long AMD listens; ``amd_says`` overrides its verdict (false positives/negatives).
    """

    number: str
    kind: str = "live"
    answer_delay: float = 2.0
    talk_seconds: float | None = 30.0
    patience_seconds: float = 10.0
    greeting_seconds: float = 4.0
    record_seconds: float = 20.0
    amd_seconds: float = 1.5
    amd_says: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in PARTY_KINDS:
            raise ValueError(f"CalledParty {self.number}: kind {self.kind!r} not one of {PARTY_KINDS}")
        if self.amd_says is not None and self.amd_says not in AMD_VERDICTS:
            raise ValueError(f"CalledParty {self.number}: amd_says {self.amd_says!r} not one of {AMD_VERDICTS}")

    def amd_verdict(self) -> tuple[str, str]:
        """(amd_result, amd_cause) as mod_amd would set them for this party."""
        result = self.amd_says or ("MACHINE" if self.kind == "machine" else "HUMAN")
        return result, {"HUMAN": "HUMAN", "MACHINE": "LONGGREETING", "NOTSURE": "TOOLONG"}[result]

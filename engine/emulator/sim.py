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

    def __post_init__(self) -> None:
        if self.behaviour not in PHONE_BEHAVIOURS:
            raise ValueError(f"Phone {self.ext}: behaviour {self.behaviour!r} not one of {PHONE_BEHAVIOURS}")


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

"""The AMD audit loop's arithmetic: which answered calls to record, and what the labelled samples say about
AMD's false positives (people AMD called machines), as a rate with a 95 % upper bound the abandon budget uses.

Supervisors label recorded samples of machine-classified calls as human or machine. From ``k`` humans among
``n`` labels the rate ``q = P(a person | AMD said machine)`` gets its upper Wilson score bound (the formula in
:func:`engine.dialler.stats.wilson_upper`); with fewer than ``min_labels`` labels the bound is the
conservative ``prior`` (or the labels' own rate when that is higher). The budget wants
``P(AMD says machine | a person answered)``: with ``M`` machine and ``L`` human verdicts that is
``M q / (L + M q)``. Sans-IO: counts in, numbers out.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from engine.dialler.stats import wilson_upper

CONFIDENCE_Z = 1.96  # two-sided 95 %: the bound is exceeded with probability 2.5 %


class Label(StrEnum):
    """What a supervisor (or an agent's disposition) says really answered."""

    HUMAN = "human"
    MACHINE = "machine"


class Source(StrEnum):
    """Where the false-positive figure comes from."""

    AUDITED = "audited"  # enough labelled samples: Wilson upper bound
    PRIOR = "prior"  # too few labels: the conservative prior
    OVERRIDE = "override"  # the operator's dial_params.amd_audit calibration


@dataclass(frozen=True)
class AmdAuditSettings:
    """Per campaign (``compliance.amd_sampling``); see docs/outbound.md."""

    sample_percent: float = 5.0
    record_seconds: int = 8
    min_labels: int = 30
    prior: float = 0.15
    machine_dispositions: tuple[str, ...] = ("answering_machine",)

    def __post_init__(self) -> None:
        if not 0 <= self.sample_percent <= 100:
            raise ValueError(f"compliance.amd_sampling.sample_percent: {self.sample_percent} is not in 0..100")
        if not 1 <= self.record_seconds <= 60:
            raise ValueError(f"compliance.amd_sampling.record_seconds: {self.record_seconds} is not in 1..60")
        if self.min_labels < 1:
            raise ValueError(f"compliance.amd_sampling.min_labels: {self.min_labels} must be at least 1")
        if not 0 < self.prior <= 1:
            raise ValueError(f"compliance.amd_sampling.prior: {self.prior} is not in (0, 1]")


def audit_settings(compliance: dict[str, Any]) -> AmdAuditSettings:
    """The campaign's sampling settings from its stored compliance JSON (every key optional)."""
    raw = compliance.get("amd_sampling", {})
    if not isinstance(raw, dict):
        raise ValueError("compliance.amd_sampling: must be a mapping")
    known = {"sample_percent", "record_seconds", "min_labels", "prior", "machine_dispositions"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"compliance.amd_sampling.{unknown[0]}: unknown setting (known: {', '.join(sorted(known))})")
    d = AmdAuditSettings()
    values: dict[str, Any] = {}
    for name, kind in (("sample_percent", float), ("record_seconds", int), ("min_labels", int), ("prior", float)):
        value = raw.get(name, getattr(d, name))
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"compliance.amd_sampling.{name}: {value!r} is not a number")
        values[name] = kind(value)
    codes = raw.get("machine_dispositions", list(d.machine_dispositions))
    if not isinstance(codes, list) or not all(isinstance(c, str) and c for c in codes):
        raise ValueError("compliance.amd_sampling.machine_dispositions: must be a list of disposition codes")
    return AmdAuditSettings(**values, machine_dispositions=tuple(codes))


def sampled(leg: str, percent: float) -> bool:
    """Is the call ``leg`` in the sample? A stable hash of its uuid, so the choice is reproducible."""
    bucket = int.from_bytes(hashlib.sha256(leg.encode()).digest()[:4], "big") % 10_000
    return bucket < percent * 100


@dataclass(frozen=True)
class FalsePositiveEstimate:
    """AMD's false positives for one campaign, and how the figure was reached."""

    source: Source
    labelled: int  # labelled machine-classified samples
    humans: int  # of them a person
    rate: float  # point estimate of P(person | AMD said machine); the prior without labels
    upper: float  # the bound of that rate the budget uses
    machine_verdicts: int
    human_verdicts: int
    per_person_upper: float  # P(AMD says machine | person answered): what AbandonBudget.status takes
    note: str

    def view(self) -> dict[str, Any]:
        """JSON-ready, for the decision log and the campaign status."""
        return {
            "source": self.source.value,
            "labelled": self.labelled,
            "humans": self.humans,
            "rate": round(self.rate, 6),
            "upper": round(self.upper, 6),
            "machine_verdicts": self.machine_verdicts,
            "human_verdicts": self.human_verdicts,
            "per_person_upper": round(self.per_person_upper, 6),
            "note": self.note,
        }


def per_person(upper: float, machine_verdicts: int, human_verdicts: int) -> float:
    """P(AMD says machine | a person answered) from P(person | machine verdict): ``M q / (L + M q)``
    (at least one human verdict is assumed, so a campaign with no people yet stays finite)."""
    hidden = machine_verdicts * upper
    return hidden / (max(human_verdicts, 1) + hidden) if hidden else 0.0


def estimate(
    humans: int, labelled: int, machine_verdicts: int, human_verdicts: int, settings: AmdAuditSettings
) -> FalsePositiveEstimate:
    """The campaign's false-positive figure from its labels (Wilson upper bound, or the prior when too few)."""
    if not 0 <= humans <= labelled:
        raise ValueError(f"need 0 <= humans ({humans}) <= labelled ({labelled})")
    rate = humans / labelled if labelled else settings.prior
    if labelled >= settings.min_labels:
        source, upper = Source.AUDITED, wilson_upper(humans, labelled, CONFIDENCE_Z)
        note = f"95 % Wilson upper bound of {humans} people in {labelled} labelled machine samples"
    else:
        source, upper = Source.PRIOR, max(settings.prior, rate)
        raised = f" raised to the labels' {rate:.2%}" if rate > settings.prior else ""
        note = f"{labelled} of {settings.min_labels} labels needed: conservative prior {settings.prior:.2%}{raised}"
    return FalsePositiveEstimate(
        source=source,
        labelled=labelled,
        humans=humans,
        rate=rate,
        upper=upper,
        machine_verdicts=machine_verdicts,
        human_verdicts=human_verdicts,
        per_person_upper=per_person(upper, machine_verdicts, human_verdicts),
        note=note,
    )


def override(live: int, false_positives: int, machine_verdicts: int, human_verdicts: int) -> FalsePositiveEstimate:
    """The operator's calibration (``dial_params.amd_audit``: audited people, of them called machines)."""
    upper = wilson_upper(false_positives, live, CONFIDENCE_Z)
    return FalsePositiveEstimate(
        source=Source.OVERRIDE,
        labelled=live,
        humans=false_positives,
        rate=false_positives / live if live else 1.0,
        upper=upper,
        machine_verdicts=machine_verdicts,
        human_verdicts=human_verdicts,
        per_person_upper=upper,
        note=f"operator override dial_params.amd_audit: {false_positives} of {live} people called machines",
    )

"""The retention decision, sans-IO: given recorded items, the policy and now, which are due for deletion.

Kinds: ``call_recording`` (a call recorded from the bridge), ``voicemail`` (a message left in a queue or a
flow), ``amd_sample`` (the first seconds of a machine-classified campaign call). An item is due when it is
older than its kind's period, and

- a call recording's call has ended: not in ``live`` (the calls the engine carries now) and with a CDR;
  a recording without a CDR counts as live for ``ORPHAN_DAYS`` (the engine stopped mid-call and never wrote
  one), then as an orphan of any age;
- an AMD sample has a label (it is still needed for the false-positive estimate), unless it is older than
  ``amd_unlabelled_days``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

ORPHAN_DAYS = 7
"""Days a recording whose call never got a CDR is still treated as possibly live."""


class Kind(StrEnum):
    """What was recorded."""

    CALL_RECORDING = "call_recording"
    VOICEMAIL = "voicemail"
    AMD_SAMPLE = "amd_sample"


@dataclass(frozen=True)
class Policy:
    """Days to keep each kind; ``None`` or 0 keeps it forever."""

    call_recordings_days: int | None = None
    voicemail_days: int | None = None
    amd_samples_days: int | None = None
    amd_unlabelled_days: int | None = None

    def days(self, kind: Kind, *, labelled: bool = True) -> int | None:
        """The period of ``kind`` (for an unlabelled AMD sample: ``amd_unlabelled_days``); None = forever."""
        days = {
            Kind.CALL_RECORDING: self.call_recordings_days,
            Kind.VOICEMAIL: self.voicemail_days,
            Kind.AMD_SAMPLE: self.amd_samples_days if labelled else self.amd_unlabelled_days,
        }[kind]
        return days or None

    def oldest_kept(self, kind: Kind, now: datetime) -> datetime | None:
        """Items of ``kind`` recorded after this are never due at ``now`` (None: none ever is)."""
        periods = [self.days(kind, labelled=True), self.days(kind, labelled=False)]
        days = [d for d in periods if d is not None]
        return now - timedelta(days=min(days)) if days else None

    def keeps_everything(self) -> bool:
        """True when no kind has a period (the daily run has nothing to do)."""
        return not any(self.days(kind, labelled=labelled) for kind in Kind for labelled in (True, False))


@dataclass(frozen=True)
class Item:
    """One recorded file as the store knows it."""

    kind: Kind
    id: int
    path: str
    at: datetime  # when it was recorded (aware)
    call_uuid: str | None = None
    call_ended: bool = True  # a call recording: its call has a CDR
    labelled: bool = True  # an AMD sample: a person labelled it


def due(items: Iterable[Item], now: datetime, policy: Policy, live: Collection[str] = ()) -> list[Item]:
    """The items to delete now, in the order given."""
    return [item for item in items if _due(item, now, policy, live)]


def _due(item: Item, now: datetime, policy: Policy, live: Collection[str]) -> bool:
    days = policy.days(item.kind, labelled=item.labelled)
    if days is None or item.at > now - timedelta(days=days):
        return False
    if item.kind is Kind.CALL_RECORDING:
        if item.call_uuid in live:
            return False
        return item.call_ended or item.at <= now - timedelta(days=ORPHAN_DAYS)
    return True

"""When the daily retention run is next due (pure: the caller passes the local time now)."""

from __future__ import annotations

from datetime import datetime, time, timedelta


def seconds_until(run_at: str, now: datetime) -> float:
    """Seconds from ``now`` (aware, local) to the next ``run_at`` (``HH:MM`` in ``now``'s zone); a full day when
    ``now`` is exactly that time (the run that is due now has just been made)."""
    hours, minutes = (int(part) for part in run_at.split(":"))
    target = datetime.combine(now.date(), time(hours, minutes), now.tzinfo)
    if target <= now:
        target = datetime.combine(now.date() + timedelta(days=1), time(hours, minutes), now.tzinfo)
    return (target - now).total_seconds()

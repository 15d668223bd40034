"""When the daily retention run is next due."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from engine.retention.schedule import seconds_until

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_the_next_run_is_later_today_or_tomorrow_in_local_time() -> None:
    assert seconds_until("03:30", datetime(2026, 11, 23, 3, 0, tzinfo=SHANGHAI)) == 1800
    assert seconds_until("03:30", datetime(2026, 11, 23, 3, 30, tzinfo=SHANGHAI)) == 86400
    assert seconds_until("03:30", datetime(2026, 11, 23, 23, 30, tzinfo=SHANGHAI)) == 4 * 3600

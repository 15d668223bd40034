"""bench.load.crash: the kill -9 kit's own figures (its run needs freeswitch and sipp: see docs/performance.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.load import crash
from engine.store import calls
from engine.store.db import default_url
from tests.hotline_rig import seed

T0 = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


def test_an_agent_with_two_callers_at_once_is_double_booked_and_one_after_the_other_is_not(tmp_path: Path) -> None:
    url = default_url(tmp_path)

    def cdr(s, uuid: str, agent: str, start: int, end: int) -> None:
        record = calls.CallRecord(
            uuid=uuid, caller_number="1", destination="4000", created_at=T0, ended_at=T0 + timedelta(seconds=end),
            outcome="answered", agent_id=agent, bridged_at=T0 + timedelta(seconds=start),
        )  # fmt: skip
        calls.record_finished_call(s, record)

    def fill(s) -> None:
        cdr(s, "a-1", "a0001", 10, 40)
        cdr(s, "a-2", "a0001", 30, 50)  # bridged while a-1 still talked: two callers at once
        cdr(s, "b-1", "a0002", 10, 20)
        cdr(s, "b-2", "a0002", 20, 30)  # right after: not overlapping

    seed(url, fill)
    assert crash.double_booked(url, T0) == ["a0001"]
    assert crash.answered_uuids(url, T0) == {"a-1", "a-2", "b-1", "b-2"}


def test_the_restarted_engine_s_log_is_read_for_adoption_and_reclaim(tmp_path: Path) -> None:
    log = tmp_path / "hotline.log"
    log.write_text(
        "old engine line\n"
        "INFO engine.runtime.reclaim: parked caller abc: back to queue load (priority 0)\n"
        "INFO engine.runtime.reclaim: parked caller def: back to queue load (priority 0)\n"
        "INFO engine.runtime.adopt: adoption: 8 calls adopted, 1 agents engaged on a busy phone, 11 agents "
        "restored, 1 offer legs killed\n"
        "WARNING engine.runtime.reclaim: parked caller ghi did not come back; their place is released\n"
    )
    said = crash.engine_said(log, len("old engine line\n"))
    assert said == {
        "adoption": "8 calls adopted, 1 agents engaged, 11 restored",
        "reclaimed": "2",
        "not reclaimed": "1",
        "errors": "0",
    }


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rate", "0"], "--rate 0-50"),
        (["--kill-at", "200", "--seconds", "60"], "--kill-at"),
        (["--agents", "0"], "--agents 1-2000"),
    ],
)
def test_unbounded_or_bad_arguments_are_refused(argv: list[str], message: str, capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        crash.main(argv)
    assert stop.value.code == 2
    assert message in capsys.readouterr().err

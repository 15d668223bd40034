"""The retention runner on real files: deletes what is due and marks the rows (audited), keeps live calls,
fresh and unlabelled items, refuses files outside the data directory, tolerates files already gone, counts
files and bytes in the metrics, and changes nothing in a dry run."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session, sessionmaker

from engine.config.model import Retention
from engine.metrics import Metrics
from engine.retention.policy import Kind, Policy
from engine.runtime.retention import DailyPurge, purge
from engine.store import audit
from engine.store.acd_models import CallRecording
from engine.store.amd_audit_models import AmdSample
from engine.store.db import make_engine, session_factory
from engine.store.migrate import upgrade
from engine.store.models import Interaction
from tests.retention_seed import Seeded, seed

pytestmark = pytest.mark.db

NOW = datetime(2026, 11, 23, 3, 30, tzinfo=UTC)
POLICY = Policy(call_recordings_days=30, voicemail_days=30, amd_samples_days=30)


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    upgrade(db_url)
    engine = make_engine(db_url)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def seeded(sessions: sessionmaker[Session], tmp_path: Path) -> Seeded:
    with sessions.begin() as s:
        return seed(s, tmp_path / "var", NOW)


def test_due_files_go_and_their_rows_say_so(sessions, seeded: Seeded, tmp_path: Path) -> None:
    metrics = Metrics()
    report = purge(sessions, tmp_path / "var", POLICY, NOW, live={"live"}, metrics=metrics)

    files = seeded.files
    assert not files["ended"].exists() and not files["voicemail"].exists() and not files["labelled"].exists()
    assert all(files[n].exists() for n in ("live", "fresh", "outside", "unlabelled"))
    calls, voicemail, amd = (report.kinds[k] for k in (Kind.CALL_RECORDING, Kind.VOICEMAIL, Kind.AMD_SAMPLE))
    assert (calls.files, calls.bytes, calls.missing, calls.refused) == (1, 1000, 1, 1)
    assert (voicemail.files, voicemail.bytes) == (1, 300) and (amd.files, amd.bytes) == (1, 200)
    assert metrics.value("hotline_retention_files_deleted_total", kind="call_recording") == 1
    assert metrics.value("hotline_retention_bytes_deleted_total", kind="voicemail") == 300
    assert metrics.value("hotline_retention_refused_total", kind="call_recording") == 1
    assert metrics.value("hotline_retention_last_run_timestamp_seconds") == NOW.timestamp()

    with sessions() as s:
        purged = {name: s.get(CallRecording, id).purged_at for name, id in seeded.recording.items()}
        assert purged == {"ended": NOW, "gone": NOW, "live": None, "outside": None, "fresh": None}
        assert s.get(Interaction, seeded.voicemail).recording_purged_at == NOW
        sample = s.get(AmdSample, seeded.amd["labelled"])
        assert sample.purged_at == NOW and sample.label == "machine"  # the label still counts
        assert s.get(AmdSample, seeded.amd["unlabelled"]).purged_at is None
        entry = audit.entries(s, entity="call_recording", entity_id=seeded.recording["ended"])[0]
        assert (entry.actor, entry.action, entry.before["path"], entry.after["bytes"]) == (
            "retention", "retention.purge", str(files["ended"]), 1000,
        )  # fmt: skip
        gone = audit.entries(s, entity="call_recording", entity_id=seeded.recording["gone"])[0]
        assert gone.after["file"] == "already gone"

    again = purge(sessions, tmp_path / "var", POLICY, NOW, live={"live"})
    assert again.kinds[Kind.CALL_RECORDING].files == 0 and again.kinds[Kind.CALL_RECORDING].refused == 1


def test_a_dry_run_reports_and_changes_nothing(sessions, seeded: Seeded, tmp_path: Path) -> None:
    metrics = Metrics()
    report = purge(sessions, tmp_path / "var", POLICY, NOW, live={"live"}, dry_run=True, metrics=metrics)
    assert report.kinds[Kind.CALL_RECORDING].files == 1 and report.kinds[Kind.CALL_RECORDING].bytes == 1000
    assert all(path.exists() for name, path in seeded.files.items() if name != "gone")
    assert metrics.value("hotline_retention_files_deleted_total", kind="call_recording") == 0
    with sessions() as s:
        assert s.get(CallRecording, seeded.recording["ended"]).purged_at is None
        assert audit.entries(s, entity="call_recording") == []


def test_nothing_goes_without_a_period_and_unlabelled_samples_have_their_own(sessions, seeded, tmp_path) -> None:
    assert all(t.files == 0 for t in purge(sessions, tmp_path / "var", Policy(), NOW).kinds.values())
    assert all(path.exists() for name, path in seeded.files.items() if name != "gone")
    report = purge(sessions, tmp_path / "var", Policy(amd_samples_days=60, amd_unlabelled_days=35), NOW)
    assert report.kinds[Kind.AMD_SAMPLE].files == 1 and not seeded.files["unlabelled"].exists()
    assert seeded.files["labelled"].exists()


def test_odd_paths_are_refused(sessions, seeded: Seeded, tmp_path: Path) -> None:
    data = tmp_path / "var"
    (data / "recordings" / "sneaky.wav").symlink_to(seeded.files["outside"])
    (data / "recordings" / "adir.wav").mkdir()
    with sessions.begin() as s:
        for name, path in (("sneaky", "sneaky.wav"), ("dots", "../../elsewhere/outside.wav"), ("dir", "adir.wav")):
            row = s.get(CallRecording, seeded.recording["ended"])
            s.add(CallRecording(call_uuid="ended", path=str(data / "recordings" / path), reason=name,
                                started_at=row.started_at))  # fmt: skip
    report = purge(sessions, data, POLICY, NOW, live={"live"})
    assert report.kinds[Kind.CALL_RECORDING].refused == 4  # outside, the symlink, the ../.. path, the directory
    assert seeded.files["outside"].exists() and (data / "recordings" / "adir.wav").is_dir()


def test_the_daily_loop_sleeps_until_run_at_and_survives_a_failed_run(sessions, seeded, tmp_path, caplog) -> None:
    # Shanghai is UTC+8: 02:30Z is 10:30 local, 17.5 h before 04:00; 04:30Z is 12:30 local, 15.5 h before.
    clock = iter([NOW.replace(hour=2), NOW, NOW.replace(hour=4)])  # sleep, run, sleep; then the run fails
    waits: list[float] = []
    settings = Retention(call_recordings_days=30, run_at="04:00")
    daily = DailyPurge(sessions, tmp_path / "var", settings, ZoneInfo("Asia/Shanghai"), Metrics(), lambda: {"live"},
                       clock=lambda: next(clock), sleep=waits.append)  # fmt: skip
    with pytest.raises(StopIteration):  # the clock runs out in the third sleep: the loop went on after the failure
        daily.loop()
    assert waits == [17.5 * 3600, 15.5 * 3600]
    assert "retention run failed; next run tomorrow" in caplog.text
    assert not seeded.files["ended"].exists() and seeded.files["live"].exists()

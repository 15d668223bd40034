"""Retention's rows: recorded files still on disk by kind (with whether the call ended and the sample is
labelled), in id batches, and marking one deleted once, in the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.retention.policy import Kind
from engine.store import audit, recordings
from engine.store import retention as store
from engine.store.errors import Gone, NotFound
from tests.retention_seed import seed

pytestmark = pytest.mark.db

NOW = datetime(2026, 11, 23, 3, 30, tzinfo=UTC)


def test_items_on_disk_by_kind_oldest_first_in_batches(session, tmp_path: Path) -> None:
    seeded = seed(session, tmp_path / "var", NOW)
    cutoff = NOW - timedelta(days=30)
    items = store.on_disk(session, Kind.CALL_RECORDING, cutoff)
    assert [(i.call_uuid, i.call_ended) for i in items] == [
        ("ended", True), ("live", False), ("gone", True), ("outside", True),
    ]  # fmt: skip
    assert [
        i.call_uuid for i in store.on_disk(session, Kind.CALL_RECORDING, cutoff, after_id=items[1].id, limit=1)
    ] == ["gone"]
    [voicemail] = store.on_disk(session, Kind.VOICEMAIL, cutoff)
    assert (voicemail.id, voicemail.path) == (seeded.voicemail, str(seeded.files["voicemail"]))
    assert {i.call_uuid: i.labelled for i in store.on_disk(session, Kind.AMD_SAMPLE, cutoff)} == {
        "leg-a": True,
        "leg-b": False,
    }


def test_a_deleted_file_is_marked_once_and_retrieval_says_why(session, tmp_path: Path) -> None:
    seed(session, tmp_path / "var", NOW)
    item = store.on_disk(session, Kind.CALL_RECORDING, NOW)[0]
    store.mark_deleted(session, item, NOW, 1000)
    store.mark_deleted(session, item, NOW + timedelta(days=1), None)
    assert item.id not in [i.id for i in store.on_disk(session, Kind.CALL_RECORDING, NOW)]
    [entry] = audit.entries(session, entity="call_recording", entity_id=item.id)
    assert entry.after == {"purged_at": NOW.isoformat(), "bytes": 1000, "file": "deleted"}
    with pytest.raises(Gone, match="deleted by the retention policy on 2026-11-23 03:30 UTC"):
        recordings.recording_file(session, "ended", item.id)
    with pytest.raises(NotFound):
        recordings.recording_file(session, "another-call", item.id)

"""Recorded files of every kind, old and new, on disk under a data directory and in the database: what the
retention tests purge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from engine.dialler.contacts import Contact
from engine.store import amd_audit, calls, recordings
from engine.store import outbound as campaigns
from engine.store.outbound import AttemptEnd


@dataclass
class Seeded:
    """Ids and files of what ``seed`` stored."""

    recording: dict[str, int]  # name -> call_recordings.id
    voicemail: int  # interactions.id
    amd: dict[str, int]  # labelled / unlabelled -> amd_samples.id
    files: dict[str, Path]  # name -> its file


def _file(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"R" * size)
    return path


def seed(session: Session, data_dir: Path, now: datetime, *, age_days: int = 40) -> Seeded:
    """Old (``age_days``) items: call recordings ``ended`` (CDR, 1000 B), ``live`` (no CDR), ``gone`` (file
    missing), ``outside`` (file outside ``data_dir``); ``fresh`` (1 day old, 10 B); an old voicemail (300 B);
    old AMD samples ``labelled`` (200 B) and ``unlabelled`` (50 B)."""
    old = now - timedelta(days=age_days)
    files = {
        "ended": _file(data_dir / "recordings" / "ended.wav", 1000),
        "live": _file(data_dir / "recordings" / "live.wav", 1),
        "gone": data_dir / "recordings" / "gone.wav",
        "outside": _file(data_dir.parent / "elsewhere" / "outside.wav", 5),
        "fresh": _file(data_dir / "recordings" / "fresh.wav", 10),
        "voicemail": _file(data_dir / "recordings" / "voicemail-support-v1.wav", 300),
        "labelled": _file(data_dir / "amd_samples" / "leg-a.wav", 200),
        "unlabelled": _file(data_dir / "amd_samples" / "leg-b.wav", 50),
    }
    ids = {}
    for name in ("ended", "live", "gone", "outside", "fresh"):
        row = recordings.add_recording(session, name, str(files[name]), reason="policy", agent_id="1001", queue="q")
        row.started_at = now - timedelta(days=1) if name == "fresh" else old
        ids[name] = row.id
        if name != "live":
            record = calls.CallRecord(name, "+8613800000000", "4000", old, old + timedelta(minutes=3), "answered")
            calls.record_finished_call(session, record)
    voicemail = calls.CallRecord("v1", "+8613800000001", "4000", old, old + timedelta(minutes=1), "voicemail")
    _, interaction = calls.record_finished_call(
        session, voicemail, kind="callback", recording_path=str(files["voicemail"])
    )
    campaign = campaigns.create_campaign(session, "spring", caller_id="+442079460000", queue="sales")
    numbers = ["+442079460018", "+442079460019"]
    campaigns.add_contacts(
        session, campaign, [Contact(n, ("Europe/London",), {}, i + 2) for i, n in enumerate(numbers)]
    )
    amd = {}
    for leg, name, contact in zip(
        ("leg-a", "leg-b"),
        ("labelled", "unlabelled"),
        campaigns.due_contacts(session, campaign.id, old, 10, set()),
        strict=True,
    ):
        campaigns.start_attempt(session, leg, contact, old, None)
        campaigns.finish_attempt(session, leg, AttemptEnd("machine", old, answered_at=old, amd_result="MACHINE"))
        row = amd_audit.add_sample(session, campaign.id, contact.id, leg, str(files[name]))
        row.created_at = old
        amd[name] = row.id
    amd_audit.label_sample(session, campaign.id, amd["labelled"], "machine", "sue")
    session.flush()
    return Seeded(ids, interaction.id, amd, files)

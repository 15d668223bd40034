"""ORM model of AMD audit samples: a machine-classified campaign call recorded for a supervisor to label,
or a human-classified call an agent dispositioned as an answering machine (a false negative)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.models import Base
from engine.store.timestamps import utcnow


class AmdSample(Base):
    """One audited campaign call: what AMD said, the recording (if any) and the label once given."""

    __tablename__ = "amd_samples"
    __table_args__ = (Index("ix_amd_samples_campaign_id_label", "campaign_id", "label"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("campaign_contacts.id", ondelete="CASCADE"))
    call_uuid: Mapped[str] = mapped_column(String(64), unique=True)  # the attempt's leg (call_attempts.uuid)
    amd_result: Mapped[str] = mapped_column(String(16))  # MACHINE (recorded sample) or HUMAN/NOTSURE (disposition)
    source: Mapped[str] = mapped_column(String(16))  # recording | disposition
    path: Mapped[str | None] = mapped_column(String(1024))  # the WAV under <data_dir>/amd_samples/
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    label: Mapped[str | None] = mapped_column(String(16))  # human | machine
    labelled_by: Mapped[str | None] = mapped_column(String(64))
    labelled_at: Mapped[datetime | None]
    purged_at: Mapped[datetime | None]  # the file was deleted by the retention policy

"""Tables the IVR writes: post-call survey answers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.models import Base
from engine.store.timestamps import UTCDateTime


class SurveyScore(Base):
    """One answer (1..5) of a post-call survey, against the call and the agent who took it."""

    __tablename__ = "survey_scores"
    __table_args__ = (
        CheckConstraint("score BETWEEN 1 AND 5", name="score_range"),
        Index("ix_survey_scores_agent_at", "agent_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_uuid: Mapped[str] = mapped_column(String(64), index=True)
    agent_id: Mapped[str | None] = mapped_column(String(64))
    question: Mapped[str] = mapped_column(String(200))
    score: Mapped[int]
    at: Mapped[datetime] = mapped_column(UTCDateTime())

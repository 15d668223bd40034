"""Post-call survey answers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.store.errors import InvalidInput
from engine.store.ivr_models import SurveyScore
from engine.store.timestamps import utc, utcnow
from engine.store.validation import non_empty


def record_score(
    session: Session, call_uuid: str, agent_id: str | None, question: str, score: int, *, at: datetime | None = None
) -> SurveyScore:
    """Store one answer given at *at* (default now, aware); raises InvalidInput naming the field for a score
    outside 1..5."""
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise InvalidInput("survey.score", score, "must be an integer from 1 to 5")
    row = SurveyScore(
        call_uuid=non_empty("survey.call_uuid", call_uuid),
        agent_id=agent_id,
        question=non_empty("survey.question", question),
        score=score,
        at=utcnow() if at is None else utc("survey.at", at),
    )
    session.add(row)
    session.flush()
    return row


def scores_for_call(session: Session, call_uuid: str) -> list[SurveyScore]:
    return list(session.scalars(select(SurveyScore).where(SurveyScore.call_uuid == call_uuid).order_by(SurveyScore.id)))

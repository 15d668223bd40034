"""Survey answers: stored against call and agent, scores checked."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from engine.store.errors import InvalidInput
from engine.store.surveys import record_score, scores_for_call

pytestmark = pytest.mark.db


def test_scores_are_stored_against_call_and_agent(session: Session) -> None:
    record_score(session, "call-1", "1001", "satisfaction", 5)
    record_score(session, "call-1", "1001", "resolved", 3)
    rows = scores_for_call(session, "call-1")
    assert [(r.question, r.score, r.agent_id) for r in rows] == [("satisfaction", 5, "1001"), ("resolved", 3, "1001")]


@pytest.mark.parametrize("score", [0, 6, True, "5"])
def test_out_of_range_score_names_the_field(session: Session, score) -> None:
    with pytest.raises(InvalidInput, match=r"survey\.score"):
        record_score(session, "call-1", None, "satisfaction", score)

"""Knowledge base: articles, audited edits, ranked full-text search on each database."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from engine.store import audit, kb
from engine.store.errors import InvalidInput

pytestmark = pytest.mark.db


def _seed(session: Session) -> list[int]:
    return [
        kb.create_article(session, "admin", q, a, tags).id
        for q, a, tags in [
            ("How do I reset my router?", "Hold the reset button for ten seconds.", ["router"]),
            ("Where is my invoice?", "Invoices are e-mailed on the first of the month.", ["billing"]),
            ("Router lights blinking red", "Blinking red means no line; reset the router, then call us.", ["router"]),
            ("如何重置密码", "在登录页面点击忘记密码。", ["密码"]),
        ]
    ]


def test_search_ranks_matching_articles(session: Session) -> None:
    ids = _seed(session)
    found = [a.id for a in kb.search(session, "reset router")]
    assert set(found) == {ids[0], ids[2]}
    assert [a.id for a in kb.search(session, "invoice")] == [ids[1]]
    assert kb.search(session, "parrot") == []


def test_search_is_safe_with_metacharacters_and_unicode(session: Session) -> None:
    ids = _seed(session)
    for query in ["'; DROP TABLE kb_articles; --", '"router" OR 1=1', "100%_", "NEAR(", "😀"]:
        kb.search(session, query)
    assert len(kb.search(session, "")) == 4
    assert [a.id for a in kb.search(session, "如何重置密码")] == [ids[3]]  # CJK matches whole runs (no segmenter)


def test_edits_are_checked_and_audited(session: Session) -> None:
    article = kb.create_article(session, "admin", "Q?", "A.", [])
    kb.update_article(session, article.id, "user:sup", {"answer": "Better A."})
    entry = audit.entries(session, entity="kb_article")[0]
    assert (entry.before["answer"], entry.after["answer"]) == ("A.", "Better A.")
    with pytest.raises(InvalidInput, match=r"kb\.question"):
        kb.create_article(session, "admin", "", "A.")
    with pytest.raises(InvalidInput, match="colour"):
        kb.update_article(session, article.id, "admin", {"colour": "red"})

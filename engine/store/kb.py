"""The knowledge base: short Q&A articles with tags, and full-text search over them.

PostgreSQL ranks with ``ts_rank(to_tsvector(...), plainto_tsquery(...))`` (the 'simple'
configuration, so any language's words match as typed). SQLite uses FTS5 when the sqlite3 module
has it — the articles are indexed into a temporary FTS5 table of the connection and ranked by
``bm25`` — and otherwise ranks by how many of the query's words occur (LIKE). Every query value
is a bound parameter.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Integer, Text, func, literal, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from engine.store import audit
from engine.store.crm_fields import tags as check_tags
from engine.store.crm_fields import text as check_text
from engine.store.crm_models import KbArticle
from engine.store.errors import found

_WORD = re.compile(r"\w+", re.UNICODE)


def article_view(article: KbArticle) -> dict[str, Any]:
    """The article as the API and the audit log show it."""
    return {
        "id": article.id,
        "question": article.question,
        "answer": article.answer,
        "tags": list(article.tags),
        "updated_at": article.updated_at,
    }


def create_article(
    session: Session, actor: str, question: str, answer: str, tags: list[str] | None = None
) -> KbArticle:
    """A new article (audited)."""
    article = KbArticle(
        question=check_text("kb.question", question, max_len=500),
        answer=check_text("kb.answer", answer, max_len=10_000),
        tags=check_tags("kb.tags", tags or []),
    )
    session.add(article)
    session.flush()
    audit.record(session, actor, "kb.create", "kb_article", article.id, None, article_view(article))
    return article


def update_article(session: Session, article_id: int, actor: str, changes: dict[str, Any]) -> KbArticle:
    """Change an article's question, answer or tags (audited)."""
    article = get_article(session, article_id)
    checks = {
        "question": lambda v: check_text("kb.question", v, max_len=500),
        "answer": lambda v: check_text("kb.answer", v, max_len=10_000),
        "tags": lambda v: check_tags("kb.tags", v),
    }
    audit.audited_update(
        session, actor, article, changes, checks, action="kb.update", entity="kb_article", view=article_view
    )
    return article


def get_article(session: Session, article_id: int) -> KbArticle:
    """The article ``article_id``; raises NotFound."""
    return found(session.get(KbArticle, article_id), "kb article", article_id)


def search(session: Session, query: str, *, limit: int = 10) -> list[KbArticle]:
    """Articles matching ``query``, best first; an empty query lists the newest articles."""
    query = check_text("q", query, max_len=200, required=False)
    words = _WORD.findall(query.lower())
    if not words:
        return list(session.scalars(select(KbArticle).order_by(KbArticle.updated_at.desc()).limit(limit)))
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return _search_postgres(session, query, limit)
    if dialect == "sqlite" and _has_fts5(session):
        return _search_fts5(session, words, limit)
    return _search_like(session, words, limit)


def _document() -> Any:
    tags = func.coalesce(func.cast(KbArticle.tags, Text()), literal(""))
    return KbArticle.question + literal(" ") + KbArticle.answer + literal(" ") + tags


def _search_postgres(session: Session, query: str, limit: int) -> list[KbArticle]:
    vector = func.to_tsvector("simple", _document())
    tsquery = func.plainto_tsquery("simple", query)
    rank = func.ts_rank(vector, tsquery)
    stmt = select(KbArticle).where(vector.op("@@")(tsquery)).order_by(rank.desc(), KbArticle.id).limit(limit)
    return list(session.scalars(stmt))


def _has_fts5(session: Session) -> bool:
    try:
        session.execute(text("CREATE VIRTUAL TABLE IF NOT EXISTS temp.kb_probe USING fts5(x)"))
    except OperationalError:  # "no such module: fts5"
        return False
    return True


def _search_fts5(session: Session, words: list[str], limit: int) -> list[KbArticle]:
    session.execute(text("DROP TABLE IF EXISTS temp.kb_fts"))
    session.execute(text("CREATE VIRTUAL TABLE temp.kb_fts USING fts5(question, answer, tags, tokenize='unicode61')"))
    session.execute(
        text(
            "INSERT INTO temp.kb_fts (rowid, question, answer, tags) SELECT id, question, answer, tags FROM kb_articles"
        )
    )
    match = " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
    ids = session.scalars(
        text("SELECT rowid FROM temp.kb_fts WHERE kb_fts MATCH :match ORDER BY bm25(kb_fts) LIMIT :limit"),
        {"match": match, "limit": limit},
    ).all()
    session.execute(text("DROP TABLE temp.kb_fts"))
    found = {a.id: a for a in session.scalars(select(KbArticle).where(KbArticle.id.in_(ids)))}
    return [found[i] for i in ids]


def _search_like(session: Session, words: list[str], limit: int) -> list[KbArticle]:
    document = func.lower(_document())
    score = sum((document.contains(w, autoescape=True).cast(Integer()) for w in words), literal(0))
    stmt = select(KbArticle).where(score > 0).order_by(score.desc(), KbArticle.id).limit(limit)
    return list(session.scalars(stmt))

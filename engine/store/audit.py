"""The audit log: every write action with who, what, when and the record before and after."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.store.crm_models import AuditEntry
from engine.store.errors import InvalidInput
from engine.store.timestamps import utcnow


def record(
    session: Session,
    actor: str,
    action: str,
    entity: str,
    entity_id: object,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> AuditEntry:
    """Append one audit entry in the caller's transaction (so it commits with the change)."""
    entry = AuditEntry(
        actor=actor, action=action, entity=entity, entity_id=str(entity_id), before=_plain(before), after=_plain(after)
    )
    session.add(entry)
    session.flush()
    return entry


def entries(
    session: Session, *, entity: str | None = None, entity_id: object = None, limit: int = 100
) -> list[AuditEntry]:
    """The newest ``limit`` entries, optionally about one entity (and one record of it)."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if entity is not None:
        query = query.where(AuditEntry.entity == entity)
    if entity_id is not None:
        query = query.where(AuditEntry.entity_id == str(entity_id))
    return list(session.scalars(query))


def _plain(data: dict[str, Any] | None) -> dict[str, Any] | None:
    """``data`` with timestamps and enums as strings, ready for a JSON column."""
    if data is None:
        return None
    return {k: _json_value(v) for k, v in data.items()}


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, list)):
        return value
    if isinstance(value, dict):
        return _plain(value)
    return value.isoformat() if isinstance(value, datetime) else str(value)


def audited_update(
    session: Session,
    actor: str,
    row: Any,
    changes: dict[str, Any],
    checks: dict[str, Callable[[Any], Any]],
    *,
    action: str,
    entity: str,
    view: Callable[[Any], dict[str, Any]],
) -> None:
    """Set each changed field through its check (naming the field on refusal), stamp ``updated_at``,
    and record the before and after in the audit log."""
    before = view(row)
    for key, value in changes.items():
        if key not in checks:
            raise InvalidInput(key, value, f"cannot be changed; changeable: {sorted(checks)}")
        setattr(row, key, checks[key](value))
    row.updated_at = utcnow()
    session.flush()
    record(session, actor, action, entity, row.id, before, view(row))

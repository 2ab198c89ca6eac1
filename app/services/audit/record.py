"""Audit entries, added inside the caller's transaction."""
from __future__ import annotations

from functools import cache

from app.core import sqlwrite
from app.extensions import db
from app.models import AuditEntry


def record(*, actor_type: str, actor_id: int | None, action: str, object_type: str,
           object_id: int | None, data: dict | None = None, ip: str | None = None
           ) -> AuditEntry:
    entry = AuditEntry(actor_type=actor_type, actor_id=actor_id, action=action,
                       object_type=object_type, object_id=object_id, data=data or {}, ip=ip)
    db.session.add(entry)
    return entry


@cache
def insert_row():
    """The INSERT of one entry, for callers writing with SQL statements (app.sqlwrite):
    the parameters of entry_params(), and `now` shared with the caller."""
    [row] = sqlwrite.insert_rows(
        AuditEntry.__table__, 1, "au",
        ("actor_type", "actor_id", "action", "object_type", "object_id", "data", "ip"),
        shared={"at": "now"})
    return row


def entry_params(*, actor_type: str, actor_id: int | None, action: str, object_type: str,
                 object_id: int | None, data: dict | None = None, ip: str | None = None
                 ) -> dict:
    return sqlwrite.rows_params("au", [dict(
        actor_type=actor_type, actor_id=actor_id, action=action, object_type=object_type,
        object_id=object_id, data=data or {}, ip=ip)])

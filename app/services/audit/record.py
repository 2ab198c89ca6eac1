"""Audit entries: one row builder and one writer, used by every path (ORM services and
the SQL statements of the cancel path alike), inside the caller's transaction."""
from __future__ import annotations

from functools import cache

from app.core import sqlwrite
from app.core.timeutil import utcnow
from app.extensions import db
from app.models import AuditEntry

COLUMNS = ("actor_type", "actor_id", "action", "object_type", "object_id", "data", "ip")


def entry_row(*, actor_type: str, actor_id: int | None, action: str, object_type: str,
              object_id: int | None, data: dict | None = None, ip: str | None = None,
              at=None) -> dict:
    """The row builder: the column values of one entry."""
    return dict(actor_type=str(getattr(actor_type, "value", actor_type)), actor_id=actor_id,
                action=action, object_type=object_type, object_id=object_id,
                data=data or {}, ip=ip, at=at or utcnow())


def write(connection, rows: list[dict]) -> None:
    """The writer: insert these entries on the caller's connection."""
    sqlwrite.insert_set(connection, AuditEntry.__table__, rows)


def record(*, actor_type: str, actor_id: int | None, action: str, object_type: str,
           object_id: int | None, data: dict | None = None, ip: str | None = None) -> None:
    """One entry in the session's transaction."""
    write(db.session.connection(), [entry_row(
        actor_type=actor_type, actor_id=actor_id, action=action, object_type=object_type,
        object_id=object_id, data=data, ip=ip)])


@cache
def insert_row():
    """The INSERT of one entry, for callers writing with SQL statements (app.core.sqlwrite):
    the parameters of entry_params(), and `now` shared with the caller."""
    [row] = sqlwrite.insert_rows(AuditEntry.__table__, 1, "au", COLUMNS, shared={"at": "now"})
    return row


def entry_params(**fields) -> dict:
    """The parameters of insert_row(), built by entry_row() like every other path."""
    row = entry_row(**fields)
    return sqlwrite.rows_params("au", [{c: row[c] for c in COLUMNS}])

"""Audit entries, added inside the caller's transaction."""
from __future__ import annotations

from app.extensions import db
from app.models import AuditEntry


def record(*, actor_type: str, actor_id: int | None, action: str, object_type: str,
           object_id: int | None, data: dict | None = None, ip: str | None = None
           ) -> AuditEntry:
    entry = AuditEntry(actor_type=actor_type, actor_id=actor_id, action=action,
                       object_type=object_type, object_id=object_id, data=data or {}, ip=ip)
    db.session.add(entry)
    return entry

"""Reading the audit log out: an export is itself an audited action."""
from __future__ import annotations

from app.core.errors import Forbidden
from app.extensions import db
from app.services.audit.record import record
from app.services.users.actor import Actor


def record_audit_export(actor: Actor, fmt: str, filters: dict,
                        ip: str | None = None) -> None:
    """A user with the audit permission exports the entries of these filters: one entry
    (format and filters), committed before the file streams."""
    if not actor.is_hr or not actor.can("audit"):
        raise Forbidden("您没有查看审计日志的权限")
    record(actor_type=actor.type.value, actor_id=actor.id, action="audit.exported",
           object_type="audit_log", object_id=None, data={"format": fmt, "filters": filters},
           ip=ip)
    db.session.commit()

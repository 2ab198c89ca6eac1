"""Exports leave the system with personal data: each one is authorized and audited."""
from __future__ import annotations

from app.extensions import db
from app.services import audit
from app.services.reports.figures import authorize
from app.services.users.actor import Actor


def record_export(actor: Actor, what: str, fmt: str, filters: dict,
                  ip: str | None = None) -> None:
    """An HR user with the reports permission exports a report table or the interview
    list: one audit entry (what, format, filters), committed before the file streams."""
    authorize(actor)
    audit.record(actor_type=actor.type.value, actor_id=actor.id, action="report.exported",
                 object_type="report", object_id=None,
                 data={"report": what, "format": fmt, "filters": filters}, ip=ip)
    db.session.commit()

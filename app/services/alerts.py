"""Telling HR when a candidate could not be told."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import HrUser, OutboxMessage, Role
from app.services import outbox


def alert_failed_notification(row: OutboxMessage, *, admins: bool = False) -> int:
    """A candidate message failed for good: queue an alert to the position's recruiter (and
    to admins when our configuration is at fault). Alerts about alerts are never sent."""
    if row.recipient_type != "candidate":
        return 0
    recipients: list[int] = []
    interview = row.interview
    if interview is not None and interview.position.recruiter_id:
        recipients.append(interview.position.recruiter_id)
    if admins or not recipients:
        recipients += db.session.scalars(select(HrUser.id).where(
            HrUser.role == Role.ADMIN, HrUser.active.is_(True))).all()
    context = {**row.context, "reason_label": (row.last_error or "通知失败")[:40]}
    for user_id in dict.fromkeys(recipients):
        outbox.enqueue(event=f"notification.failed:{row.id}", kind="staff_notification_failed",
                       recipient_type="hr_user", recipient_id=user_id, interview=interview,
                       context=context)
    try:
        from app.services.webhooks import enqueue_event, notification_payload
    except ImportError:
        return len(recipients)
    enqueue_event("notification.failed", f"notification.failed:{row.id}",
                  notification_payload(row))
    return len(recipients)

"""Telling HR when a candidate could not be told."""
from __future__ import annotations

from sqlalchemy import select

from app.core.timeutil import iso, utcnow
from app.extensions import db
from app.models import HrUser, OutboxMessage, Role
from app.services import webhooks
from app.services.interviews.recipients import recipients as interview_recipients
from app.services.notifications import outbox


def alert_failed_notification(row: OutboxMessage, *, admins: bool = False) -> int:
    """A candidate message failed for good: queue an alert to the position's recruiter (and
    to admins when our configuration is at fault). Alerts about alerts are never sent."""
    if row.recipient_type != "candidate":
        return 0
    interview = row.interview
    recipients = ([r.recipient_id for r in interview_recipients(
        "notification_failed", interview, interview.candidate_id)]
        if interview is not None else [])
    if admins or not recipients:
        recipients += db.session.scalars(select(HrUser.id).where(
            HrUser.role == Role.ADMIN, HrUser.active.is_(True))).all()
    context = {**row.context, "reason_label": (row.last_error or "通知失败")[:40]}
    for user_id in dict.fromkeys(recipients):
        outbox.enqueue(event=f"notification.failed:{row.id}", kind="staff_notification_failed",
                       recipient_type="hr_user", recipient_id=user_id, interview=interview,
                       context=context)
    webhooks.enqueue_event("notification.failed", f"notification.failed:{row.id}",
                           notification_payload(row))
    return len(recipients)


def notification_payload(row: OutboxMessage) -> dict:
    """What the company's systems learn about a failed notification (no personal data)."""
    interview = row.interview
    return {
        "occurred_at": iso(utcnow()),
        "notification": {"id": row.id, "kind": row.kind, "channel": row.channel,
                         "status": row.status.value, "errcode": row.errcode,
                         "error": row.last_error, "attempts": row.attempts},
        "interview": ({"id": interview.public_id, "number": interview.number,
                       "status": interview.status.value,
                       "scheduled_at": iso(interview.scheduled_at)} if interview else None),
        "candidate": {"ref": (interview.candidate.external_ref
                              or f"candidate-{interview.candidate_id}") if interview else None},
    }

"""Writing outbox rows (inside the caller's transaction) and waking the dispatcher."""
from __future__ import annotations

import logging

from app.extensions import db, redis_store
from app.models import Interview, OutboxMessage, OutboxStatus
from app.security.crypto import new_token
from app.timeutil import iso, utcnow

log = logging.getLogger(__name__)
WAKE_CHANNEL = "outbox-wake"


def interview_context(interview: Interview, *, reason_label: str = "", note: str = "") -> dict:
    """The facts a message about this interview may show (JSON-serializable)."""
    return {
        "interview_number": interview.number,
        "interview_public_id": interview.public_id,
        "candidate_name": interview.candidate.name,
        "position_title": interview.position.title,
        "department": interview.position.department,
        "scheduled_at": iso(interview.scheduled_at),
        "reason_label": reason_label,
        "note": note,
    }


def enqueue(*, event: str, kind: str, recipient_type: str, recipient_id: int,
            interview: Interview | None, context: dict) -> OutboxMessage:
    """Queue one message; the dedupe key makes (event, recipient, kind) unique."""
    row = OutboxMessage(
        dedupe_key=f"{event}:{recipient_type}:{recipient_id}:{kind}",
        event=event, kind=kind, recipient_type=recipient_type, recipient_id=recipient_id,
        interview=interview, context=context, status=OutboxStatus.QUEUED,
        next_attempt_at=utcnow(), open_token=new_token(18), attempts=0)
    db.session.add(row)
    return row


def wake_dispatcher() -> None:
    """Tell workers new rows are due (after commit). Losing this is harmless: they sweep."""
    try:
        redis_store.client.publish(redis_store.key(WAKE_CHANNEL), b"1")
    except Exception:  # the periodic sweep covers a lost wake-up
        log.warning("could not publish outbox wake-up", exc_info=True)

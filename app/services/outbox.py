"""Writing outbox rows (inside the caller's transaction) and waking the dispatcher."""
from __future__ import annotations

import logging
from functools import cache

from app import sqlwrite
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


def dedupe_key(event: str, recipient_type: str, recipient_id: int, kind: str) -> str:
    return f"{event}:{recipient_type}:{recipient_id}:{kind}"


def message_values(*, event: str, kind: str, recipient_type: str, recipient_id: int,
                   interview_id: int | None, context: dict) -> dict:
    """The column values of one queued message; the dedupe key makes (event, recipient,
    kind) unique."""
    now = utcnow()
    return dict(
        dedupe_key=dedupe_key(event, recipient_type, recipient_id, kind),
        event=event, kind=kind, recipient_type=recipient_type, recipient_id=recipient_id,
        interview_id=interview_id, context=context, status=OutboxStatus.QUEUED,
        next_attempt_at=now, open_token=new_token(18), attempts=0, open_count=0,
        created_at=now, updated_at=now)


def enqueue(*, event: str, kind: str, recipient_type: str, recipient_id: int,
            interview: Interview | None, context: dict) -> OutboxMessage:
    """Queue one message in the session's transaction."""
    row = OutboxMessage(**message_values(
        event=event, kind=kind, recipient_type=recipient_type, recipient_id=recipient_id,
        interview_id=None, context=context))
    row.interview = interview
    db.session.add(row)
    return row


@cache
def fanout_templates(count: int) -> list:
    """INSERTs of `count` queued messages about one event and interview, for callers
    writing with SQL statements (app.sqlwrite). Parameters: per message those of
    fanout_params(); shared with the caller: `iv_id` (the interview) and `now`."""
    return sqlwrite.insert_templates(
        OutboxMessage.__table__, count, "m",
        ("dedupe_key", "kind", "recipient_type", "recipient_id", "open_token"),
        shared={"event": "event", "interview_id": "iv_id", "context": "message_context",
                "status": sqlwrite.constant(OutboxStatus.QUEUED),
                "attempts": sqlwrite.constant(0), "open_count": sqlwrite.constant(0),
                "next_attempt_at": "now", "created_at": "now", "updated_at": "now"})


def fanout_params(event: str, context: dict, recipients: list[tuple[str, str, int]]) -> dict:
    """The parameters of fanout_templates() for (kind, recipient_type, recipient_id)s."""
    params = sqlwrite.rows_params("m", [
        dict(dedupe_key=dedupe_key(event, recipient_type, recipient_id, kind), kind=kind,
             recipient_type=recipient_type, recipient_id=recipient_id,
             open_token=new_token(18))
        for kind, recipient_type, recipient_id in recipients])
    params["event"] = event
    params["message_context"] = context
    return params


def wake_dispatcher() -> None:
    """Tell workers new rows are due (after commit). Losing this is harmless: they sweep."""
    try:
        redis_store.client.publish(redis_store.key(WAKE_CHANNEL), b"1")
    except Exception:  # the periodic sweep covers a lost wake-up
        log.warning("could not publish outbox wake-up", exc_info=True)

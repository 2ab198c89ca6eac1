"""Read tracking: the recipient opened the page a message links to."""
from __future__ import annotations

from sqlalchemy import select

from app.core.errors import NotFound
from app.core.timeutil import utcnow
from app.extensions import db
from app.models import OutboxMessage, OutboxStatus

READABLE = (OutboxStatus.SENT, OutboxStatus.DELIVERED, OutboxStatus.READ)


class NotificationNotFound(NotFound):
    code = "notification_not_found"
    message = "未找到该消息"


def record_open(*, candidate_id: int, open_token: str) -> OutboxMessage:
    """First open time and count; someone else's token looks exactly like an unknown one."""
    row = db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.open_token == open_token, OutboxMessage.recipient_type == "candidate",
        OutboxMessage.recipient_id == candidate_id).with_for_update()).first()
    if row is None:
        raise NotificationNotFound()
    return _opened(row)


def record_open_by_link(open_token: str) -> OutboxMessage:
    """The link in an SMS or e-mail was opened (the token itself is the secret)."""
    row = db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.open_token == open_token).with_for_update()).first()
    if row is None:
        raise NotificationNotFound()
    return _opened(row)


def _opened(row: OutboxMessage) -> OutboxMessage:
    now = utcnow()
    row.open_count = (row.open_count or 0) + 1
    if row.read_at is None:
        row.read_at = now
    if row.status in READABLE:
        row.status = OutboxStatus.READ
    db.session.commit()
    return row

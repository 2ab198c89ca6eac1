"""Outbox rows (one message to one recipient, written in the same transaction as the change)
and the subscription credits that allow a mini-program subscribe message."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.timeutil import UTCDateTime
from app.extensions import db
from app.models._base import TimestampMixin
from app.models.interview import Interview


class OutboxStatus(str, enum.Enum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    RETRYING = "retrying"
    FAILED = "failed"
    UNREACHABLE = "unreachable"
    # Never sent, on purpose: at dispatch the message no longer fitted its interview
    # (cancelled, moved, confirmed already...); last_error says why. Final.
    SKIPPED = "skipped"

    @property
    def label(self) -> str:
        return OUTBOX_LABELS[self]


OUTBOX_LABELS = {
    OutboxStatus.QUEUED: "排队中",
    OutboxStatus.SENDING: "发送中",
    OutboxStatus.SENT: "已发送",
    OutboxStatus.DELIVERED: "已送达",
    OutboxStatus.READ: "已读",
    OutboxStatus.RETRYING: "重试中",
    OutboxStatus.FAILED: "发送失败",
    OutboxStatus.UNREACHABLE: "无法触达",
    OutboxStatus.SKIPPED: "已作废",
}
DUE_STATUSES = (OutboxStatus.QUEUED, OutboxStatus.RETRYING)
# No further attempt will be made (a delivery result may still move SENT forward).
FINAL_STATUSES = (OutboxStatus.FAILED, OutboxStatus.UNREACHABLE, OutboxStatus.SKIPPED)


class OutboxMessage(TimestampMixin, db.Model):
    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    # (event, recipient, kind): the same event never produces two messages for one person.
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    event: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))
    interview_id: Mapped[int | None] = mapped_column(ForeignKey("interviews.id"), index=True)
    recipient_type: Mapped[str] = mapped_column(String(16))  # candidate / hr_user
    recipient_id: Mapped[int] = mapped_column(Integer)
    app: Mapped[str | None] = mapped_column(String(8))       # mp / oa
    channel: Mapped[str | None] = mapped_column(String(32))  # subscribe / oa_template / ...
    touser: Mapped[str | None] = mapped_column(String(64))
    template_id: Mapped[str | None] = mapped_column(String(64))
    context: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[OutboxStatus] = mapped_column(
        Enum(OutboxStatus, native_enum=False, length=16,
             values_callable=lambda e: [m.value for m in e]),
        default=OutboxStatus.QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(40), index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    errcode: Mapped[int | None] = mapped_column(Integer)
    # WeChat msgid, SMS serial number or e-mail Message-ID
    msgid: Mapped[str | None] = mapped_column(String(200), index=True)
    open_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    open_count: Mapped[int] = mapped_column(Integer, default=0)
    # The request that queued it (X-Request-Id), to follow it in the logs (issue 12 §7).
    request_id: Mapped[str | None] = mapped_column(String(64))

    interview: Mapped[Interview | None] = relationship()


class Subscription(TimestampMixin, db.Model):
    """wx.requestSubscribeMessage results: each accept is one message credit."""

    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("openid", "template_id",
                                       name="uq_subscriptions_openid_template"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), index=True)
    template_id: Mapped[str] = mapped_column(String(64))
    last_result: Mapped[str] = mapped_column(String(8))  # accept / reject / ban
    credits: Mapped[int] = mapped_column(Integer, default=0)

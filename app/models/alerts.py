"""Watchdog alerts: a condition HR must know about (messages late, a candidate nobody
could reach, a webhook receiver failing, a channel paused by WeChat's quota).

Trap: "alert once" is the unique `open_key`. It holds the dedupe key while the alert is
open and becomes NULL when the condition clears, so the same condition happening again
later opens a new row (and a new message) while an open one is never doubled, even when
two workers run the watchdog at the same moment (the second INSERT conflicts).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.timeutil import UTCDateTime, utcnow
from app.extensions import db

# kind -> Chinese title (banner, OA message, audit)
ALERT_KINDS: dict[str, str] = {
    "message_overdue": "候选人通知超时未发出",
    "candidate_unreachable": "候选人无法触达",
    "webhook_failing": "对接接口持续投递失败",
    "channel_paused": "消息渠道已暂停",
}


class Alert(db.Model):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), index=True)
    # = dedupe_key while open; NULL once cleared (unique: one open alert per condition)
    open_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    # Who sees it: the department's HR (None: admins only, e.g. webhooks and channels).
    department: Mapped[str | None] = mapped_column(String(100), index=True)
    interview_id: Mapped[int | None] = mapped_column(ForeignKey("interviews.id"), index=True)
    subject: Mapped[str] = mapped_column(String(100))     # what it is about (no phone)
    detail: Mapped[str] = mapped_column(String(300))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    recipients: Mapped[list] = mapped_column(JSON, default=list)  # HR user ids told
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[int | None] = mapped_column(Integer)

    @property
    def title(self) -> str:
        return ALERT_KINDS.get(self.kind, self.kind)

    @property
    def is_open(self) -> bool:
        return self.cleared_at is None

"""Official Account rows for HR and for candidates who write to it: one-time binding codes,
where a feedback came from (the OA openid that wrote it) and HR's customer-service
replies to it.

Traps: a binding code and its QR scene token are stored only as keyed hashes (a leaked
table does not let anyone bind); the OA openid of a feedback is what a reply goes to, and
its received_at is what WeChat's 48-hour customer-service window counts from.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.timeutil import UTCDateTime, utcnow
from app.extensions import db
from app.models._base import TimestampMixin


class HrBindingCode(TimestampMixin, db.Model):
    """A one-time code (typed as `绑定 <code>`) and QR scene token binding a WeChat user to
    one HR account; only their hashes are stored. A new code replaces the user's old one."""

    __tablename__ = "hr_binding_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    hr_user_id: Mapped[int] = mapped_column(ForeignKey("hr_users.id", ondelete="CASCADE"),
                                            index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scene_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    used_by_openid: Mapped[str | None] = mapped_column(String(64))


class FeedbackSource(db.Model):
    """The Official Account message a feedback came from (mini-program feedback has none)."""

    __tablename__ = "feedback_sources"

    feedback_id: Mapped[int] = mapped_column(ForeignKey("feedback.id", ondelete="CASCADE"),
                                             primary_key=True)
    app: Mapped[str] = mapped_column(String(8))          # "oa"
    openid: Mapped[str] = mapped_column(String(64), index=True)
    msgid: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FeedbackReply(TimestampMixin, db.Model):
    """HR's answer to a feedback, sent as a customer-service message (status sent/failed)."""

    __tablename__ = "feedback_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    feedback_id: Mapped[int] = mapped_column(ForeignKey("feedback.id", ondelete="CASCADE"),
                                             index=True)
    hr_user_id: Mapped[int] = mapped_column(ForeignKey("hr_users.id"))
    content: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))      # sending / sent / failed
    errcode: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # A reply still `sending` this long after it was written: the process that sent it
    # died between WeChat's answer and our record (the send is not repeated by itself:
    # a customer-service message has no dedupe id, so HR decides whether to send again).
    SENDING_UNKNOWN_AFTER = timedelta(minutes=2)

    @property
    def status_label(self) -> str:
        if self.status == "sending" and self.created_at is not None \
                and self.created_at < utcnow() - self.SENDING_UNKNOWN_AFTER:
            return "发送结果未知，请确认候选人是否收到，必要时重新回复"
        return {"sent": "已发送", "failed": "发送失败", "sending": "发送中"}.get(
            self.status, self.status)

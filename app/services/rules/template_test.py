"""发送测试消息: one message kind, with sample values, to an HR user's bound Official
Account openid, through the outbox and WeChat (the sandbox in development and tests), so
an admin sees at once whether WeChat accepts the template id and the payload.

The row is written already claimed (status sending, with a lease) so no worker takes it,
sent at once over the Official Account, and left sent or failed: a test never retries,
never falls back to another channel and raises no failure alert.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.timeutil import iso, utcnow
from app.extensions import db
from app.models import HrUser, OutboxMessage, OutboxStatus
from app.services import audit
from app.services.notifications import outbox
from app.services.notifications.receipts import apply_pending_delivery
from app.services.notifications.routing import Route
from app.services.notifications.transmit import transmit
from app.services.rules.store import require_settings
from templates_msg.catalogue import MESSAGE_KINDS


class NotBound(Conflict):
    code = "hr_user_not_bound"
    message = "该用户尚未绑定微信，无法接收测试消息"


class NotTestable(Conflict):
    code = "kind_not_testable"
    message = "该消息只通过小程序订阅消息发给候选人，无法发送给HR测试"


@dataclass(frozen=True)
class TestResult:
    accepted: bool
    template_id: str | None
    errcode: int | None
    message: str
    outbox_id: int


def sample_context() -> dict:
    """Sample values for every field any message kind shows."""
    now = utcnow()
    return {
        "candidate_name": "张三（测试）", "position_title": "Java工程师（测试）",
        "department": "技术部", "interview_number": "AI-2026-01-01-001",
        "scheduled_at": iso(now + timedelta(days=1)),
        "previous_scheduled_at": iso(now + timedelta(hours=20)),
        "slot_starts_at": iso(now + timedelta(days=2)),
        "confirm_by": iso(now + timedelta(hours=12)), "auto_cancel_hours": 24,
        "reason_label": "测试消息，请忽略", "note": "", "comment": "测试消息，请忽略",
        "reschedule_days": 3, "hr_contact": "请联系招聘HR",
        "cancelled": 3, "skipped": 0, "pending": 1, "failed": 0, "scope": "测试场次",
        "cancelled_at": iso(now), "actor_name": "系统管理员", "day": now.date().isoformat(),
        "day_end_at": iso(now), "endpoint_name": "测试接口",
        "endpoint_url": "https://example.com/hook", "disabled_at": iso(now),
        "consecutive_failures": 5, "reason": "测试",
    }


def _hr_user(user_id: int) -> HrUser:
    user = db.session.get(HrUser, user_id)
    if user is None:
        raise NotFound("未找到该用户", code="hr_user_not_found")
    if not user.wechat_openid:
        raise NotBound()
    return user


def bound_users(actor) -> list[HrUser]:
    """The HR users a test message can go to (bound to the Official Account)."""
    require_settings(actor)
    return list(db.session.scalars(select(HrUser).where(
        HrUser.wechat_openid.is_not(None), HrUser.active.is_(True))
        .order_by(HrUser.username)))


def send_test_message(actor, kind_code: str, user_id: int, *, ip: str | None = None
                      ) -> TestResult:
    """An admin sends one kind with sample values to a bound HR user and learns whether
    WeChat accepted it (the answer of the send, not yet the delivery)."""
    require_settings(actor)
    kind = MESSAGE_KINDS.get(kind_code)
    if kind is None:
        raise ValidationFailed("未知的消息类型", code="unknown_message_kind",
                               details={"field": "kind"})
    if kind.oa_template_key is None:
        raise NotTestable()
    user = _hr_user(user_id)
    openid = user.wechat_openid
    worker = "settings-test-" + uuid.uuid4().hex[:12]
    lease = timedelta(seconds=current_app.config.get("WORKER_LEASE_SECONDS", 60))
    now = utcnow()
    row = outbox.message_row(event=f"settings.test_message:{uuid.uuid4().hex}", kind=kind.code,
                             recipient_type="hr_user", recipient_id=user.id,
                             interview_id=None, context=sample_context(), now=now)
    row.update(status=OutboxStatus.SENDING, claimed_by=worker, lease_until=now + lease,
               attempts=1)
    [row_id] = outbox.write(db.session.connection(), [row])
    db.session.commit()

    route = Route("oa_template", "oa", openid)
    outcome = transmit(kind.code, row["context"], row["open_token"], route, row_id)

    message = db.session.get(OutboxMessage, row_id)
    message.channel, message.app, message.touser = route.channel, route.app, route.address
    message.template_id, message.lease_until = outcome.template_id, None
    accepted = outcome.status == "sent"
    if accepted:
        message.status, message.sent_at, message.msgid = OutboxStatus.SENT, utcnow(), \
            outcome.msgid
        text = "微信已接受该消息"
        apply_pending_delivery(message)  # WeChat may already have pushed the delivery
    else:
        message.status, message.errcode = OutboxStatus.FAILED, outcome.errcode
        message.last_error = outcome.error or "发送失败"
        text = "微信未接受：" + message.last_error
    audit.record(actor_type="hr", actor_id=actor.id, action="settings.template_test_sent",
                 object_type="outbox_message", object_id=row_id, ip=ip,
                 data={"kind": kind.code, "hr_user_id": user.id,
                       "template_id": outcome.template_id, "accepted": accepted,
                       "errcode": outcome.errcode})
    db.session.commit()
    return TestResult(accepted, outcome.template_id, outcome.errcode, text, row_id)

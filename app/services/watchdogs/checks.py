"""The watchdogs' conditions, read from the data at the clock `now` (no writes).

Edges (tested by the clock):
- a candidate message is overdue once it has waited MORE than the notification promise
  (exactly at the promise it is still on time, as the 通知时效 page counts);
- a webhook receiver is failing once its oldest undelivered event has been failing FOR
  WATCHDOG_WEBHOOK_FAILING_HOURS or more with no success since;
- a candidate is unreachable when the newest message to them (within the look-back
  window) finally failed or found no channel; a later message that went out clears it.
  The dispatcher already told the recruiter of that failure (staff_notification_failed,
  app.services.notifications.alerts): they get the banner, not a second message;
- a channel is paused while dispatch's pause flag (Redis, set on errcode 45009 until the
  next day) exists.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, or_, select

from app.core.timeutil import cn_datetime
from app.extensions import db, redis_store
from app.models import (
    Interview,
    OutboxMessage,
    OutboxStatus,
    Position,
    WebhookDelivery,
    WebhookEndpoint,
)
from app.models.webhook import DeliveryStatus
from app.services.interviews.recipients import recipients as interview_recipients
from app.services.notifications import routing
from app.services.rules import get_rules
from app.services.watchdogs.alerts import Condition, admins, responsible

WAITING = (OutboxStatus.QUEUED, OutboxStatus.RETRYING, OutboxStatus.SENDING)
FINAL_FAILURES = (OutboxStatus.FAILED, OutboxStatus.UNREACHABLE)
NO_DEPARTMENT = "（无岗位）"
CHANNEL_LABELS = {"subscribe": "小程序订阅消息", "oa_template": "公众号模板消息",
                  "sms": "短信", "email": "电子邮件"}


def message_overdue(now: datetime) -> list[Condition]:
    """Per department: candidate messages still waiting after the notification promise."""
    promise = get_rules().notify_promise_minutes
    rows = db.session.execute(
        select(Position.department, Position.recruiter_id, func.count(OutboxMessage.id),
               func.min(OutboxMessage.created_at))
        .select_from(OutboxMessage)
        .outerjoin(Interview, Interview.id == OutboxMessage.interview_id)
        .outerjoin(Position, Position.id == Interview.position_id)
        .where(OutboxMessage.recipient_type == "candidate",
               OutboxMessage.status.in_(WAITING), OutboxMessage.sent_at.is_(None),
               OutboxMessage.created_at < now - timedelta(minutes=promise))
        .group_by(Position.department, Position.recruiter_id)).all()
    departments: dict[str | None, list] = {}
    for department, recruiter_id, count, oldest in rows:
        entry = departments.setdefault(department, [0, oldest, []])
        entry[0] += count
        entry[1] = min(entry[1], oldest)
        entry[2].append(recruiter_id)
    out = []
    for department, (count, oldest, owners) in sorted(departments.items(),
                                                      key=lambda d: d[0] or ""):
        waited = int((now - oldest).total_seconds() // 60)
        out.append(Condition(
            kind="message_overdue", key=f"message_overdue:{department or '-'}",
            subject=f"{department or NO_DEPARTMENT} {count}条候选人通知未发出",
            detail=f"最早一条已等待{waited}分钟，超过{promise}分钟的通知时效承诺",
            recipients=responsible(owners, department), department=department,
            data={"count": count, "promise_minutes": promise}))
    return out


def candidate_unreachable(now: datetime) -> list[Condition]:
    """Per candidate: the newest message to them (in the window) reached nobody."""
    since = now - timedelta(hours=current_app.config["WATCHDOG_UNREACHABLE_WINDOW_HOURS"])
    newest = (select(OutboxMessage.recipient_id, func.max(OutboxMessage.id).label("last_id"))
              .where(OutboxMessage.recipient_type == "candidate",
                     OutboxMessage.created_at >= since, OutboxMessage.created_at <= now)
              .group_by(OutboxMessage.recipient_id).subquery())
    rows = db.session.scalars(
        select(OutboxMessage).join(newest, newest.c.last_id == OutboxMessage.id)
        .where(OutboxMessage.status.in_(FINAL_FAILURES))
        .order_by(OutboxMessage.id)).all()
    told: dict[int, set[int]] = {}
    if rows:
        for event, user_id in db.session.execute(
                select(OutboxMessage.event, OutboxMessage.recipient_id).where(
                    OutboxMessage.kind == "staff_notification_failed",
                    OutboxMessage.event.in_([f"notification.failed:{r.id}" for r in rows]))):
            told.setdefault(int(event.rsplit(":", 1)[1]), set()).add(user_id)
    out = []
    for row in rows:
        interview = row.interview
        department = interview.position.department if interview is not None else None
        owners = ([r.recipient_id for r in interview_recipients(
            "notification_failed", interview, interview.candidate_id)]
            if interview is not None else [])
        subject = (f"{interview.number} {interview.position.title}" if interview is not None
                   else f"候选人 #{row.recipient_id}")
        out.append(Condition(
            kind="candidate_unreachable", key=f"candidate_unreachable:{row.recipient_id}",
            subject=subject,
            detail=("所有渠道均无法送达候选人" if row.status == OutboxStatus.UNREACHABLE
                    else f"通知发送失败：{(row.last_error or '未知原因')[:60]}"),
            recipients=responsible(owners, department), department=department,
            interview_id=row.interview_id, already_told=tuple(sorted(told.get(row.id, ()))),
            data={"outbox_message_id": row.id, "candidate_id": row.recipient_id}))
    return out


def webhook_failing(now: datetime) -> list[Condition]:
    """Per active endpoint: events failing for hours with no success since."""
    hours = current_app.config["WATCHDOG_WEBHOOK_FAILING_HOURS"]
    rows = db.session.execute(
        select(WebhookEndpoint, func.min(WebhookDelivery.first_attempt_at),
               func.count(WebhookDelivery.id))
        .join(WebhookDelivery, WebhookDelivery.endpoint_id == WebhookEndpoint.id)
        .where(WebhookEndpoint.active.is_(True),
               WebhookDelivery.status.in_((DeliveryStatus.RETRYING, DeliveryStatus.FAILED)),
               WebhookDelivery.first_attempt_at.is_not(None),
               or_(WebhookEndpoint.last_success_at.is_(None),
                   WebhookEndpoint.last_success_at < WebhookDelivery.first_attempt_at))
        .group_by(WebhookEndpoint.id).order_by(WebhookEndpoint.id)).all()
    out = []
    for endpoint, first_failure, count in rows:
        if first_failure > now - timedelta(hours=hours):
            continue
        out.append(Condition(
            kind="webhook_failing", key=f"webhook_failing:{endpoint.id}",
            subject=f"对接接口 {endpoint.name}",
            detail=f"自{cn_datetime(first_failure)}起投递失败（{count}个事件未送达），"
                   f"已持续{hours}小时以上",
            recipients=tuple(admins()), data={"endpoint_id": endpoint.id, "pending": count}))
    return out


def channel_paused(now: datetime) -> list[Condition]:
    """Per channel: paused by WeChat's daily quota (errcode 45009) until the next day."""
    flags = redis_store.client.mget([routing._pause_key(c) for c in routing.CHANNELS])
    out = []
    for channel, flag in zip(routing.CHANNELS, flags, strict=True):
        if not flag:
            continue
        until = flag.decode() if isinstance(flag, bytes) else str(flag)
        try:
            until_text = cn_datetime(datetime.fromisoformat(until))
        except ValueError:
            until_text = "次日"
        out.append(Condition(
            kind="channel_paused", key=f"channel_paused:{channel}",
            subject=CHANNEL_LABELS.get(channel, channel),
            detail=f"今日发送次数已达微信上限（45009），暂停至{until_text}，期间改用其他渠道",
            recipients=tuple(admins()), data={"channel": channel, "until": until}))
    return out


CHECKS = {
    "message_overdue": message_overdue,
    "candidate_unreachable": candidate_unreachable,
    "webhook_failing": webhook_failing,
    "channel_paused": channel_paused,
}

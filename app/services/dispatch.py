"""Outbox dispatch: claim due rows, pick the channel, send through wechatpy, record.

Claiming works on any number of workers: candidate rows are selected with
FOR UPDATE SKIP LOCKED on PostgreSQL, then taken with a conditional UPDATE that only
matches rows still due (or whose lease expired), so two workers never send one row.
"""
from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, or_, select, update
from wechatpy.exceptions import WeChatClientException

from app.extensions import db
from app.models import OutboxMessage, OutboxStatus, Subscription, WechatAccount, WechatApp
from app.models.outbox import DUE_STATUSES
from app.timeutil import utcnow
from app.wechat.client import WeChatUnavailable, mini_program_client, official_account_client
from templates_msg import get_kind, render

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 5
BACKOFF_CAP_SECONDS = 3600

# errcode -> Chinese explanation for HR (final failures)
ERRCODE_EXPLANATIONS = {
    40003: "接收人openid无效（可能是另一个应用的openid）",
    40037: "模板ID无效，请管理员检查模板配置",
    41030: "消息跳转页面未在已发布的小程序中",
    43004: "接收人未关注公众号",
    43101: "用户未订阅该消息",
    47003: "消息字段不符合微信规则",
    45009: "今日发送次数已达上限",
}


@dataclass
class Delivery:
    """Where one row goes: app (mp/oa), channel, openid and template."""

    app: str
    channel: str
    openid: str


def claim_due(limit: int, worker_id: str | None = None) -> list[int]:
    """Take up to `limit` due rows for this worker; returns their ids (committed)."""
    now = utcnow()
    worker_id = worker_id or uuid.uuid4().hex
    lease = timedelta(seconds=current_app.config["WORKER_LEASE_SECONDS"])
    due = or_(and_(OutboxMessage.status.in_(DUE_STATUSES), OutboxMessage.next_attempt_at <= now),
              and_(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.lease_until < now))
    stmt = select(OutboxMessage.id).where(due).order_by(OutboxMessage.next_attempt_at).limit(limit)
    if db.engine.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    ids = list(db.session.scalars(stmt))
    if not ids:
        db.session.rollback()
        return []
    db.session.execute(
        update(OutboxMessage).where(OutboxMessage.id.in_(ids), due)
        .values(status=OutboxStatus.SENDING, claimed_by=worker_id, lease_until=now + lease,
                attempts=OutboxMessage.attempts + 1)
        .execution_options(synchronize_session=False))
    db.session.commit()
    return list(db.session.scalars(
        select(OutboxMessage.id).where(OutboxMessage.claimed_by == worker_id,
                                       OutboxMessage.status == OutboxStatus.SENDING,
                                       OutboxMessage.id.in_(ids))))


def send_one(row_id: int, worker_id: str) -> OutboxStatus | None:
    """Send one row this worker claimed and record the result in its own transaction."""
    row = db.session.get(OutboxMessage, row_id)
    if row is None or row.status != OutboxStatus.SENDING or row.claimed_by != worker_id:
        return None  # reclaimed by another worker after our lease expired
    excluded: set[str] = set()
    while True:
        delivery = _resolve(row, excluded)
        if delivery is None:
            _finish(row, OutboxStatus.UNREACHABLE, error="收件人没有可用的通知渠道")
            break
        try:
            msgid = _send(row, delivery)
        except WeChatClientException as exc:
            if exc.errcode == 43101:
                _spend_credit(delivery.openid, row.template_id, all_credits=True)
                excluded.add(delivery.channel)
                continue  # no subscription: try the next channel
            _on_wechat_error(row, exc.errcode, str(exc.errmsg))
            break
        except WeChatUnavailable as exc:
            _retry(row, None, f"微信接口不可达：{exc}")
            break
        _finish(row, OutboxStatus.SENT, msgid=msgid)
        break
    db.session.commit()
    return row.status


def _resolve(row: OutboxMessage, excluded: set[str]) -> Delivery | None:
    kind = get_kind(row.kind)
    if row.recipient_type == "candidate":
        accounts = db.session.scalars(select(WechatAccount).where(
            WechatAccount.candidate_id == row.recipient_id)).all()
    else:
        accounts = db.session.scalars(select(WechatAccount).where(
            WechatAccount.hr_user_id == row.recipient_id)).all()
    cfg = current_app.config
    if kind.mp_template_key and "subscribe" not in excluded:
        template_id = cfg[kind.mp_template_key]
        for acc in accounts:
            if acc.app == WechatApp.MINI_PROGRAM and _has_credit(acc.openid, template_id):
                return Delivery("mp", "subscribe", acc.openid)
    if kind.oa_template_key and "oa_template" not in excluded:
        for acc in accounts:
            if acc.app == WechatApp.OFFICIAL_ACCOUNT and acc.followed:
                return Delivery("oa", "oa_template", acc.openid)
    return None


def _has_credit(openid: str, template_id: str) -> bool:
    sub = db.session.scalars(select(Subscription).where(
        Subscription.openid == openid, Subscription.template_id == template_id)).first()
    return sub is not None and sub.credits > 0


def _spend_credit(openid: str, template_id: str | None, all_credits: bool = False) -> None:
    sub = db.session.scalars(select(Subscription).where(
        Subscription.openid == openid, Subscription.template_id == template_id)).first()
    if sub is not None and sub.credits > 0:
        sub.credits = 0 if all_credits else sub.credits - 1


def _send(row: OutboxMessage, delivery: Delivery) -> str | None:
    cfg = current_app.config
    msg = render(row.kind, row.context, app=delivery.app, config=cfg, open_token=row.open_token)
    row.app, row.channel, row.touser, row.template_id = (
        delivery.app, delivery.channel, delivery.openid, msg.template_id)
    if delivery.app == "mp":
        payload = {"touser": delivery.openid, "template_id": msg.template_id, "page": msg.page,
                   "data": msg.data, "miniprogram_state": cfg.get("WECHAT_MP_STATE", "formal"),
                   "lang": "zh_CN"}
        result = mini_program_client().call(
            lambda c: c.post("message/subscribe/send", data=payload))
        _spend_credit(delivery.openid, msg.template_id)
    else:
        payload = {"touser": delivery.openid, "template_id": msg.template_id, "data": msg.data,
                   "miniprogram": {"appid": cfg["WECHAT_MP_APPID"], "pagepath": msg.page},
                   "client_msg_id": f"outbox-{row.id}"}
        result = official_account_client().call(
            lambda c: c.post("message/template/send", data=payload))
    msgid = result.get("msgid") if isinstance(result, dict) else None
    return str(msgid) if msgid is not None else None


def _finish(row: OutboxMessage, status: OutboxStatus, *, msgid: str | None = None,
            error: str | None = None, errcode: int | None = None) -> None:
    row.status = status
    row.lease_until = None
    if status == OutboxStatus.SENT:
        row.sent_at = utcnow()
        row.msgid = msgid
        row.last_error = None
    else:
        row.last_error = error
        row.errcode = errcode


def _on_wechat_error(row: OutboxMessage, errcode: int | None, errmsg: str) -> None:
    if errcode == -1:
        _retry(row, errcode, f"微信系统繁忙：{errmsg}")
    elif errcode == 45009:
        _retry(row, errcode, ERRCODE_EXPLANATIONS[45009], at=_next_day())
    else:
        explanation = ERRCODE_EXPLANATIONS.get(errcode, "微信拒绝了该消息")
        _finish(row, OutboxStatus.FAILED, error=f"{explanation}（{errcode}：{errmsg}）",
                errcode=errcode)


def _retry(row: OutboxMessage, errcode: int | None, error: str,
           at: datetime | None = None) -> None:
    if row.attempts >= MAX_ATTEMPTS:
        _finish(row, OutboxStatus.FAILED, error=f"多次重试后仍失败：{error}", errcode=errcode)
        return
    delay = min(BACKOFF_BASE_SECONDS * 2 ** (row.attempts - 1), BACKOFF_CAP_SECONDS)
    row.status = OutboxStatus.RETRYING
    row.next_attempt_at = at or utcnow() + timedelta(seconds=delay * random.uniform(0.5, 1.0))
    row.lease_until = None
    row.last_error = error
    row.errcode = errcode


def _next_day() -> datetime:
    from app.timeutil import SHANGHAI

    local_now = utcnow().astimezone(SHANGHAI)
    tomorrow = (local_now + timedelta(days=1)).replace(hour=0, minute=5, second=0, microsecond=0)
    return tomorrow.astimezone(utcnow().tzinfo)

"""Which channel reaches a recipient, in the product's order.

Candidates: mini-program subscribe message (only with an accepted subscription for that
template) -> Official Account template message (when they follow it: linked by unionid)
-> SMS (phone on file) -> e-mail. HR users, interviewers and hiring managers: OA template
message when bound, else e-mail. A channel paused by WeChat's daily quota (45009) is
skipped until the next day.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import select

from app.extensions import db, redis_store
from app.models import Candidate, HrUser, OutboxMessage, Subscription, WechatAccount, WechatApp
from templates_msg import MessageKind

CHANNELS = ("subscribe", "oa_template", "sms", "email")


@dataclass(frozen=True)
class Route:
    channel: str          # subscribe / oa_template / sms / email
    app: str | None       # mp / oa for WeChat channels
    address: str          # openid, phone number or e-mail address


def resolve(row: OutboxMessage, kind: MessageKind, excluded: set[str]) -> Route | None:
    """The first channel that can reach this row's recipient, skipping `excluded`."""
    for route in candidates_routes(row, kind) if row.recipient_type == "candidate" \
            else staff_routes(row, kind):
        if route.channel not in excluded and not channel_paused(route.channel):
            return route
    return None


def candidates_routes(row: OutboxMessage, kind: MessageKind):
    accounts = db.session.scalars(select(WechatAccount).where(
        WechatAccount.candidate_id == row.recipient_id)).all()
    cfg = current_app.config
    if kind.mp_template_key:
        template_id = cfg[kind.mp_template_key]
        for acc in accounts:
            if acc.app == WechatApp.MINI_PROGRAM and has_credit(acc.openid, template_id):
                yield Route("subscribe", "mp", acc.openid)
    if kind.oa_template_key or kind.mp_template_key:
        unionids = {a.unionid for a in accounts if a.unionid}
        oa = [a for a in accounts if a.app == WechatApp.OFFICIAL_ACCOUNT and a.followed]
        if unionids:
            oa += db.session.scalars(select(WechatAccount).where(
                WechatAccount.app == WechatApp.OFFICIAL_ACCOUNT, WechatAccount.followed.is_(True),
                WechatAccount.unionid.in_(unionids))).all()
        for acc in oa:
            yield Route("oa_template", "oa", acc.openid)
    candidate = db.session.get(Candidate, row.recipient_id)
    if candidate is not None and candidate.phone_encrypted:
        yield Route("sms", None, candidate.phone)
    if candidate is not None and candidate.email:
        yield Route("email", None, candidate.email)


def staff_routes(row: OutboxMessage, kind: MessageKind):
    for acc in db.session.scalars(select(WechatAccount).where(
            WechatAccount.hr_user_id == row.recipient_id,
            WechatAccount.app == WechatApp.OFFICIAL_ACCOUNT, WechatAccount.followed.is_(True))):
        yield Route("oa_template", "oa", acc.openid)
    user = db.session.get(HrUser, row.recipient_id)
    if user is not None and user.active and user.email:
        yield Route("email", None, user.email)


def has_credit(openid: str, template_id: str) -> bool:
    sub = db.session.scalars(select(Subscription).where(
        Subscription.openid == openid, Subscription.template_id == template_id)).first()
    return sub is not None and sub.credits > 0


def _pause_key(channel: str) -> str:
    return redis_store.key("channel-paused", channel)


def channel_paused(channel: str) -> bool:
    return bool(redis_store.client.exists(_pause_key(channel)))


def pause_channel(channel: str, until: datetime) -> None:
    """Stop using a channel until `until` (WeChat's daily quota resets at midnight)."""
    from app.timeutil import utcnow

    seconds = max(int((until - utcnow()).total_seconds()), 60)
    redis_store.client.set(_pause_key(channel), until.isoformat(), ex=seconds)

"""Outbox dispatch: claim due rows, pick the channel, send, record.

Claiming works for any number of workers: candidate rows are selected with
FOR UPDATE SKIP LOCKED on PostgreSQL, then taken with a conditional UPDATE that only
matches rows still due (or whose lease expired), so two workers never hold one row. A
worker that dies mid-send loses nothing: its rows are claimed again when the lease ends.
The network call happens outside any transaction; the result is recorded only while the
row is still this worker's.
"""
from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, or_, select, update

from app.extensions import db
from app.models import OutboxMessage, OutboxStatus, Subscription
from app.models.outbox import DUE_STATUSES
from app.services import routing
from app.services.alerts import alert_failed_notification
from app.services.delivery import apply_pending_delivery, has_pending_delivery
from app.services.transmit import Outcome, transmit
from app.timeutil import SHANGHAI, utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 5
BACKOFF_CAP_SECONDS = 3600


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


@dataclass
class Plan:
    row_id: int
    kind: str
    context: dict
    open_token: str | None
    route: routing.Route | None
    excluded: set[str] = field(default_factory=set)


def plan_batch(ids: list[int], worker_id: str) -> list[Plan]:
    """Plans for claimed rows, read in a few queries for the whole batch."""
    try:
        rows = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.id.in_(ids), OutboxMessage.status == OutboxStatus.SENDING,
            OutboxMessage.claimed_by == worker_id)).all()
        directory = routing.Directory.load(rows)
        return [Plan(row.id, row.kind, dict(row.context), row.open_token,
                     routing.resolve(row, set(), directory)) for row in rows]
    finally:
        db.session.rollback()


def send_one(row_id: int, worker_id: str, plan: Plan | None = None) -> OutboxStatus | None:
    """Send one row this worker claimed, trying channels in order; record the result."""
    excluded: set[str] = set()
    for _ in range(len(routing.CHANNELS) + 1):
        if plan is None:
            plan = _plan(row_id, worker_id, excluded)
        if plan is None:
            return None  # reclaimed by another worker after our lease expired
        if plan.route is None:
            return _record(plan, worker_id, Outcome.unreachable())
        outcome = transmit(plan.kind, plan.context, plan.open_token, plan.route, row_id)
        if outcome.status == "next":
            _leave_channel(plan.route, outcome)
            excluded.add(plan.route.channel)
            plan = None
            continue
        if outcome.status == "sent" and _record_sent_fast(plan, worker_id, outcome):
            return OutboxStatus.SENT
        return _record(plan, worker_id, outcome)
    return _record(plan, worker_id, Outcome.unreachable())


def _plan(row_id: int, worker_id: str, excluded: set[str]) -> Plan | None:
    """Read what is needed to send (no transaction stays open during the network call)."""
    try:
        row = db.session.get(OutboxMessage, row_id)
        if row is None or row.status != OutboxStatus.SENDING or row.claimed_by != worker_id:
            return None
        route = routing.resolve(row, excluded)
        return Plan(row.id, row.kind, dict(row.context), row.open_token, route, excluded)
    finally:
        db.session.rollback()


def _leave_channel(route: routing.Route, outcome: Outcome) -> None:
    """43101: our credit record was wrong, zero it. 45009: pause the channel for the day."""
    if outcome.errcode == 43101 and route.channel == "subscribe":
        db.session.execute(update(Subscription).where(Subscription.openid == route.address)
                           .values(credits=0))
        db.session.commit()
    if outcome.errcode == 45009:
        routing.pause_channel(route.channel, _next_day())


def _record_sent_fast(plan: Plan, worker_id: str, outcome: Outcome) -> bool:
    """The common case in one UPDATE; False when the ORM path is needed (a delivery event
    arrived before the msgid was stored) or the row is no longer ours."""
    route = plan.route
    if outcome.msgid and route.app and has_pending_delivery(route.app, outcome.msgid):
        return False
    result = db.session.execute(
        update(OutboxMessage).where(OutboxMessage.id == plan.row_id,
                                    OutboxMessage.status == OutboxStatus.SENDING,
                                    OutboxMessage.claimed_by == worker_id)
        .values(status=OutboxStatus.SENT, sent_at=utcnow(), msgid=outcome.msgid,
                channel=route.channel, app=route.app,
                touser=route.address if route.app else _mask(route.address),
                template_id=outcome.template_id, lease_until=None, last_error=None,
                errcode=None)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        db.session.rollback()
        return True  # reclaimed by another worker: nothing of ours to record
    if route.channel == "subscribe":
        db.session.execute(update(Subscription).where(
            Subscription.openid == route.address, Subscription.template_id == outcome.template_id,
            Subscription.credits > 0).values(credits=Subscription.credits - 1))
    db.session.commit()
    return True


def _record(plan: Plan, worker_id: str, outcome: Outcome) -> OutboxStatus | None:
    stmt = select(OutboxMessage).where(OutboxMessage.id == plan.row_id,
                                       OutboxMessage.status == OutboxStatus.SENDING,
                                       OutboxMessage.claimed_by == worker_id)
    if db.engine.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = db.session.scalars(stmt).first()
    if row is None:
        db.session.rollback()
        return None
    row.lease_until = None
    route = plan.route
    if route is not None:
        row.channel, row.app = route.channel, route.app
        row.touser = route.address if route.app else _mask(route.address)
        row.template_id = outcome.template_id
    if outcome.status == "sent":
        row.status, row.sent_at, row.msgid = OutboxStatus.SENT, utcnow(), outcome.msgid
        row.last_error, row.errcode = None, None
        if route.channel == "subscribe":
            _spend_credit(route.address, outcome.template_id)
        # WeChat may report delivery before we stored the msgid: apply what it said.
        apply_pending_delivery(row)
    elif outcome.status == "retry" and row.attempts < MAX_ATTEMPTS:
        delay = min(BACKOFF_BASE_SECONDS * 2 ** (row.attempts - 1), BACKOFF_CAP_SECONDS)
        row.status = OutboxStatus.RETRYING
        row.next_attempt_at = outcome.retry_at or utcnow() + timedelta(
            seconds=delay * random.uniform(0.5, 1.0))
        row.last_error, row.errcode = outcome.error, outcome.errcode
    else:
        final = OutboxStatus.UNREACHABLE if outcome.status == "unreachable" else OutboxStatus.FAILED
        prefix = "多次重试后仍失败：" if outcome.status == "retry" else ""
        row.status, row.errcode = final, outcome.errcode
        row.last_error = prefix + (outcome.error or "")
        alert_failed_notification(row, admins=outcome.alert_admins)
    db.session.commit()
    if row.status in (OutboxStatus.FAILED, OutboxStatus.UNREACHABLE):
        from app.services.outbox import wake_dispatcher

        wake_dispatcher()  # the alerts just queued
    return row.status


def _spend_credit(openid: str, template_id: str | None) -> None:
    sub = db.session.scalars(select(Subscription).where(
        Subscription.openid == openid, Subscription.template_id == template_id)
        .with_for_update()).first()
    if sub is not None and sub.credits > 0:
        sub.credits -= 1


def _mask(address: str) -> str:
    if "@" in address:
        name, _, domain = address.partition("@")
        return name[:2] + "***@" + domain
    return address[:3] + "****" + address[-4:] if len(address) >= 7 else "****"


def _next_day() -> datetime:
    local_now = utcnow().astimezone(SHANGHAI)
    tomorrow = (local_now + timedelta(days=1)).replace(hour=0, minute=5, second=0,
                                                       microsecond=0)
    return tomorrow.astimezone(utcnow().tzinfo)

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
from sqlalchemy import and_, bindparam, or_, select, update

from app.core.timeutil import SHANGHAI, utcnow
from app.extensions import db, redis_store
from app.models import OutboxMessage, OutboxStatus, Subscription
from app.models.outbox import DUE_STATUSES
from app.services.notifications import routing
from app.services.notifications.alerts import alert_failed_notification
from app.services.notifications.receipts import apply_pending_delivery, pending_delivery_key
from app.services.notifications.transmit import Outcome, transmit

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


def send_one(row_id: int, worker_id: str, plan: Plan | None = None,
             on_sent=None) -> OutboxStatus | None:
    """Send one row this worker claimed, trying channels in order; record the result.
    With `on_sent`, successful sends are handed to it to be recorded in batches."""
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
        if outcome.status == "sent" and on_sent is not None:
            on_sent((plan, outcome))
            return OutboxStatus.SENT
        if outcome.status == "sent" and record_sent_batch([(plan, outcome)], worker_id):
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


def record_sent_batch(items: list[tuple[Plan, Outcome]], worker_id: str) -> int:
    """Record successful sends in one transaction (one UPDATE per row, sent together).
    A row whose delivery event already arrived takes the ORM path to apply it; a row no
    longer ours (reclaimed after the lease) is left to its new owner."""
    if not items:
        return 0
    pipe = redis_store.client.pipeline(transaction=False)
    for plan, outcome in items:
        if outcome.msgid and plan.route.app:
            pipe.exists(pending_delivery_key(plan.route.app, outcome.msgid))
        else:
            pipe.exists(redis_store.key("never"))
    pending = pipe.execute()
    fast = [(p, o) for (p, o), waiting in zip(items, pending, strict=True) if not waiting]
    slow = [(p, o) for (p, o), waiting in zip(items, pending, strict=True) if waiting]
    now = utcnow()
    if fast:
        table = OutboxMessage.__table__
        db.session.execute(
            table.update().where(table.c.id == bindparam("b_id"),
                                 table.c.status == OutboxStatus.SENDING,
                                 table.c.claimed_by == bindparam("b_worker"))
            .values(status=OutboxStatus.SENT, sent_at=bindparam("b_sent_at"),
                    msgid=bindparam("b_msgid"), channel=bindparam("b_channel"),
                    app=bindparam("b_app"), touser=bindparam("b_touser"),
                    template_id=bindparam("b_template"), lease_until=None, last_error=None,
                    errcode=None, updated_at=bindparam("b_sent_at")),
            [{"b_id": p.row_id, "b_worker": worker_id, "b_sent_at": now, "b_msgid": o.msgid,
              "b_channel": p.route.channel, "b_app": p.route.app,
              "b_touser": p.route.address if p.route.app else _mask(p.route.address),
              "b_template": o.template_id} for p, o in fast])
        # Sorted: two workers spending credits of the same users lock rows in one order
        # (no deadlock).
        spent = sorted(({"b_openid": p.route.address, "b_template": o.template_id}
                        for p, o in fast if p.route.channel == "subscribe"),
                       key=lambda d: (d["b_openid"], d["b_template"]))
        if spent:
            sub = Subscription.__table__
            db.session.execute(
                sub.update().where(sub.c.openid == bindparam("b_openid"),
                                   sub.c.template_id == bindparam("b_template"),
                                   sub.c.credits > 0)
                .values(credits=sub.c.credits - 1), spent)
        db.session.commit()
    for plan, outcome in slow:
        _record(plan, worker_id, outcome)
    return len(items)


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
        from app.services.notifications.outbox import wake_dispatcher

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

"""Claiming due outbox rows for one worker, and settling the ones that no longer fit.

One transaction per batch: the due rows are read with their interview's status and time
(FOR UPDATE OF the outbox rows only, SKIP LOCKED on PostgreSQL, so any number of workers
share the work), then
- a message its kind declares stale for the interview as it is now (templates_msg:
  `MessageKind.valid_while` / `about_time`: a confirm reminder after a cancel, a message
  about the old time after a reschedule) becomes `skipped` with the reason, never sent;
- a row whose lease expired after MAX_ATTEMPTS claims (a worker died or crashed on it
  each time) fails for good, with an alert, like any other exhausted row;
- the rest are taken (status `sending`, this worker, a lease, one more attempt) with a
  conditional UPDATE that matches only rows still due, and routed in a few queries.

Traps:
- The check runs at claim time, before the send: a claimed batch waits in the worker's
  buffer for free send threads (up to a batch's sending time, well under a second at full
  speed), and a cancel committed in that window does not stop a message already claimed.
- `attempts` counts claims: a row reclaimed after its lease expired has used an attempt
  although its send may never have reached WeChat (or may have: see dispatch's docstring).
- PostgreSQL refuses FOR UPDATE on the nullable side of an outer join: lock `OF` the
  outbox table only; interviews are read, not locked (a concurrent cancel is not blocked).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, bindparam, case, or_, select

from app.core.timeutil import utcnow
from app.extensions import db
from app.models import Interview, OutboxMessage, OutboxStatus
from app.models.interview import STATUS_LABELS, InterviewStatus
from app.models.outbox import DUE_STATUSES
from app.services.notifications import routing
from app.services.rules.templates import effective_ids as effective_template_ids
from templates_msg import get_kind

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
RECLAIMED_NOTE = "上次发送未记录结果（发送进程中断），租约到期后重新发送"
EXHAUSTED_NOTE = "多次发送均未完成（发送进程在发送时中断）"


def stale_text(code: str, status) -> str:
    """The Chinese reason recorded on a skipped message."""
    if code == "interview_cancelled":
        return "面试已取消，此消息不再发送"
    if code == "interview_rescheduled":
        return "面试时间已变更，此消息针对原时间，不再发送"
    label = STATUS_LABELS.get(InterviewStatus(status), str(status))
    return f"面试状态已变为“{label}”，此消息不再适用，不再发送"


@dataclass
class Plan:
    row_id: int
    kind: str
    context: dict
    open_token: str | None
    route: routing.Route | None
    excluded: set[str] = field(default_factory=set)
    # the template ids in force (HR's settings over the config), read once per batch
    template_ids: dict | None = None
    # for the send's log line (app.services.notifications.send_log)
    request_id: str | None = None
    interview_id: int | None = None


CLAIMABLE = (*DUE_STATUSES, OutboxStatus.SENDING)


def _due(now: datetime):
    m = OutboxMessage.__table__.c
    return or_(and_(m.status.in_(DUE_STATUSES), m.next_attempt_at <= now),
               and_(m.status == OutboxStatus.SENDING, m.lease_until < now))


def claim(limit: int, worker_id: str, now: datetime | None = None) -> list[Plan]:
    """Take up to `limit` due rows for this worker and plan their sends (committed).
    Stale and exhausted rows found on the way are settled in the same transaction."""
    now = now or utcnow()
    m, iv = OutboxMessage.__table__, Interview.__table__
    due = _due(now)
    stmt = (select(m.c.id, m.c.kind, m.c.context, m.c.open_token, m.c.recipient_type,
                   m.c.recipient_id, m.c.status, m.c.attempts, m.c.request_id,
                   m.c.interview_id,
                   iv.c.status.label("interview_status"),
                   iv.c.scheduled_at.label("interview_scheduled_at"))
            .select_from(m.outerjoin(iv, iv.c.id == m.c.interview_id))
            .where(due).order_by(m.c.next_attempt_at).limit(limit))
    if db.engine.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=m)
    alerts = False
    try:
        rows = db.session.execute(stmt).all()
        if not rows:
            return []
        take, skip, fail = [], [], []
        for r in rows:
            try:
                kind = get_kind(r.kind)
            except KeyError:
                fail.append((r.id, f"未知的消息类型 {r.kind}（系统缺陷，已通知管理员）", True))
                continue
            stale = kind.stale_reason(r.context or {}, r.interview_status,
                                      r.interview_scheduled_at)
            if stale:
                skip.append({"b_id": r.id, "b_reason": stale_text(stale, r.interview_status)})
            elif r.status == OutboxStatus.SENDING and r.attempts >= MAX_ATTEMPTS:
                fail.append((r.id, EXHAUSTED_NOTE, False))
            else:
                take.append(r)
        if skip:
            # (these rows are locked by us on PostgreSQL; the status guard covers SQLite,
            # without IN: an executemany takes no expanding parameter)
            db.session.execute(
                m.update().where(m.c.id == bindparam("b_id"),
                                 or_(*(m.c.status == s for s in CLAIMABLE)))
                .values(status=OutboxStatus.SKIPPED, last_error=bindparam("b_reason"),
                        lease_until=None, claimed_by=worker_id, updated_at=now),
                skip)
            log.info("outbox: %d stale messages skipped", len(skip))
        for row_id, reason, admins in fail:
            alerts |= _fail(row_id, reason, admins)
        plans = _take(take, worker_id, now, due) if take else []
        db.session.commit()
    finally:
        db.session.rollback()
    if alerts:
        from app.services.notifications.outbox import wake_dispatcher

        wake_dispatcher()
    return plans


def _take(rows, worker_id: str, now: datetime, due) -> list[Plan]:
    m = OutboxMessage.__table__
    lease = timedelta(seconds=current_app.config["WORKER_LEASE_SECONDS"])
    taken = set(db.session.scalars(
        m.update().where(m.c.id.in_([r.id for r in rows]), due)
        .values(status=OutboxStatus.SENDING, claimed_by=worker_id, lease_until=now + lease,
                attempts=m.c.attempts + 1, updated_at=now,
                last_error=case((m.c.status == OutboxStatus.SENDING, RECLAIMED_NOTE),
                                else_=m.c.last_error))
        .returning(m.c.id)))
    rows = [r for r in rows if r.id in taken]
    directory = routing.Directory.load(rows)
    directory.template_ids = effective_template_ids()
    return [Plan(r.id, r.kind, dict(r.context or {}), r.open_token,
                 routing.resolve(r, set(), directory), template_ids=directory.template_ids,
                 request_id=r.request_id, interview_id=r.interview_id)
            for r in rows]


def _fail(row_id: int, reason: str, admins: bool) -> bool:
    """A row that cannot be sent at all: failed for good, HR alerted."""
    from app.services.notifications.alerts import alert_failed_notification

    row = db.session.get(OutboxMessage, row_id)
    if row is None:
        return False
    row.status, row.lease_until, row.errcode = OutboxStatus.FAILED, None, None
    row.last_error = reason
    alert_failed_notification(row, admins=admins)
    return True

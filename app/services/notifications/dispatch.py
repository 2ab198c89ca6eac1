"""Outbox dispatch: claim due rows (app.services.notifications.claim), send each over
the first channel that reaches its recipient, record the result.

Claiming works for any number of workers (FOR UPDATE SKIP LOCKED, then a conditional
UPDATE). The network call happens outside any transaction; the result is recorded only
while the row is still this worker's.

Recording an accepted send is the hot path and the crash window: a worker killed after
WeChat (or the SMS provider) accepted a message and before the send was committed leaves
the row `sending`; after the lease another worker sends it again. Official Account
messages carry `client_msg_id` (WeChat drops the repeat); subscribe messages and SMS
do not: that is a second message and a second credit. So each accepted send is committed
at once by ONE statement (the row becomes sent and, for a subscribe message, the
credit is spent, in the same statement on PostgreSQL) on a connection kept for it
(`SentRecorder`), right after the provider answered: no batch, no ORM, no pool checkout.
What remains is the time between the provider's accept and that commit (one round trip
to PostgreSQL, about a millisecond); bench/crash_window.py measures it.

Traps:
- The recorder's connection commits with synchronous_commit off: the record is visible
  to every worker at once and survives any worker crash, but a crash of PostgreSQL
  itself may forget the last fraction of a second of records (those messages are sent
  again: a duplicate, never a loss). Failures and retries are not on it (ORM, durable).
- An exception anywhere in a send (a provider misconfigured, a template bug) is an
  attempt like any other: it ends in retry with backoff or, after MAX_ATTEMPTS, in final
  failure with the reason; a row never stays `sending` past its lease for that.
- A delivery event may arrive before the msgid is committed (receipts keeps it in Redis):
  it is looked for AFTER the commit, so an event arriving meanwhile is not missed; in
  batches (`apply_early_deliveries`: every 64 sends or 0.2 s, before each claim and when
  the worker stops), so a worker killed within that time leaves such a row `sent` instead
  of `delivered` (the result itself waits in Redis for a day).
"""
from __future__ import annotations

import enum
import logging
import os
import random
import threading
import time
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, exists, func, select, update

from app.core.timeutil import SHANGHAI, utcnow
from app.extensions import db, redis_store
from app.models import OutboxMessage, OutboxStatus, Subscription
from app.services.notifications import routing, send_log
from app.services.notifications.alerts import alert_failed_notification
from app.services.notifications.claim import MAX_ATTEMPTS, Plan
from app.services.notifications.claim import claim as claim_rows
from app.services.notifications.receipts import apply_pending_delivery, pending_delivery_key
from app.services.notifications.transmit import Outcome, transmit

log = logging.getLogger(__name__)

__all__ = ["MAX_ATTEMPTS", "Plan", "apply_early_deliveries", "claim", "record_sent",
           "send_one"]

BACKOFF_BASE_SECONDS = 5
BACKOFF_CAP_SECONDS = 3600


def send_one(row_id: int, worker_id: str, plan: Plan | None = None) -> OutboxStatus | None:
    """Send one row this worker claimed, trying channels in order; record the result at
    once (never in batches: see the module docstring)."""
    excluded: set[str] = set(plan.excluded) if plan is not None else set()
    for _ in range(len(routing.CHANNELS) + 1):
        if plan is None:
            plan = _plan(row_id, worker_id, excluded)
        if plan is None:
            return None  # reclaimed by another worker after our lease expired
        if plan.route is None:
            return _record(plan, worker_id, Outcome.unreachable())
        try:
            outcome = transmit(plan.kind, plan.context, plan.open_token, plan.route, row_id,
                               plan.template_ids)
        except Exception as exc:  # an attempt like any other (see the module docstring)
            log.exception("outbox row %s: %s send raised", row_id, plan.route.channel)
            outcome = Outcome("retry", error=_exception_text(exc))
        if outcome.status == "next":
            _leave_channel(plan.route, outcome)
            excluded = excluded | {plan.route.channel}
            plan = None
            continue
        if outcome.status == "sent":
            return OutboxStatus.SENT if record_sent(plan, outcome, worker_id) else None
        return _record(plan, worker_id, outcome)
    return _record(plan, worker_id, Outcome.unreachable())


def _exception_text(exc: BaseException) -> str:
    return f"发送时出现异常：{type(exc).__name__}: {exc}"[:500]


def _plan(row_id: int, worker_id: str, excluded: set[str]) -> Plan | None:
    """Read what is needed to send (no transaction stays open during the network call)."""
    try:
        row = db.session.get(OutboxMessage, row_id)
        if row is None or row.status != OutboxStatus.SENDING or row.claimed_by != worker_id:
            return None
        route = routing.resolve(row, excluded)
        return Plan(row.id, row.kind, dict(row.context), row.open_token, route, set(excluded),
                    request_id=row.request_id, interview_id=row.interview_id)
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


# --- recording an accepted send: one statement, committed at once ---------------------

def _sent_statements(dialect: str):
    """(sent, spend) statements. On PostgreSQL one statement does both (CTEs); elsewhere
    the credit is a second statement in the same transaction."""
    t, sub = OutboxMessage.__table__, Subscription.__table__
    mark = (t.update().where(t.c.id == bindparam("b_id"),
                             t.c.status == OutboxStatus.SENDING,
                             t.c.claimed_by == bindparam("b_worker"))
            .values(status=OutboxStatus.SENT, sent_at=bindparam("b_now"),
                    msgid=bindparam("b_msgid"), channel=bindparam("b_channel"),
                    app=bindparam("b_app"), touser=bindparam("b_touser"),
                    template_id=bindparam("b_template"), lease_until=None,
                    last_error=None, errcode=None, updated_at=bindparam("b_now")))
    spend = (sub.update().where(sub.c.openid == bindparam("b_openid"),
                                sub.c.template_id == bindparam("b_template"),
                                sub.c.credits > 0)
             .values(credits=sub.c.credits - 1, updated_at=bindparam("b_now")))
    if dialect != "postgresql":
        return mark, spend
    sent = mark.returning(t.c.id).cte("sent")
    spent = spend.where(exists(select(sent.c.id))).returning(sub.c.id).cte("spent")
    return (select(func.count()).select_from(sent).add_cte(spent),
            select(func.count()).select_from(sent))


_STATEMENTS: dict[str, tuple] = {}


def _statements(dialect: str):
    if dialect not in _STATEMENTS:
        _STATEMENTS[dialect] = _sent_statements(dialect)
    return _STATEMENTS[dialect]


class SentRecorder:
    """PostgreSQL: one autocommit connection per process and app, shared by the send
    threads under a lock, for the one-statement record of each accepted send. The
    statements are SQLAlchemy Core, compiled once and run on the driver's connection:
    no compile-cache lookup or result wrapping per send (a third of the CPU)."""

    def __init__(self, engine):
        self.engine = engine
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.connection = None   # SQLAlchemy Connection (owns the pool checkout)
        self.raw = None          # its psycopg connection
        self.compiled = {}       # statement -> (SQL text, constant parameters)
        # recorded WeChat sends whose early delivery result is still to be looked for
        self.deliveries: list[tuple[int, str, str]] = []
        self.checked_at = time.monotonic()

    def _connect(self):
        if self.raw is None:
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql("SET synchronous_commit = off")
            self.connection, self.raw = conn, conn.connection.driver_connection
        return self.raw

    def _compile(self, statement):
        if statement not in self.compiled:
            compiled = statement.compile(dialect=self.engine.dialect)
            constants = {k: v.value if isinstance(v, enum.Enum) else v
                         for k, v in compiled.params.items() if not k.startswith("b_")}
            self.compiled[statement] = (compiled.string, constants)
        return self.compiled[statement]

    def close(self) -> None:
        with self.lock:
            self._drop()

    def _drop(self) -> None:
        conn, self.connection, self.raw = self.connection, None, None
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except Exception:  # already broken
                pass

    def execute(self, statement, params: dict) -> int:
        """Run one statement (autocommit); its single scalar."""
        sql, constants = self._compile(statement)
        with self.lock:
            for attempt in (1, 2):
                raw = self._connect()
                try:
                    return raw.execute(sql, {**constants, **params}).fetchone()[0]
                except Exception:
                    broken = raw.closed or raw.broken
                    self._drop()  # reconnect once: PostgreSQL may have restarted
                    if attempt == 2 or not broken:
                        raise
        raise AssertionError("unreachable")


    def note_delivery(self, row_id: int, app_name: str, msgid: str) -> bool:
        """Remember a recorded send; True when the batch of them is due to be checked."""
        with self.lock:
            self.deliveries.append((row_id, app_name, msgid))
            return (len(self.deliveries) >= DELIVERY_CHECK_ROWS
                    or time.monotonic() - self.checked_at >= DELIVERY_CHECK_SECONDS)

    def take_deliveries(self) -> list[tuple[int, str, str]]:
        with self.lock:
            taken, self.deliveries = self.deliveries, []
            self.checked_at = time.monotonic()
            return taken


# Early delivery results are looked for in one Redis round trip per this many recorded
# sends or this long, and before every claim: not once per send (it cost more CPU than
# the record itself). WeChat pushes a delivery seconds after the send; one that came
# before our commit waits in Redis for a day.
DELIVERY_CHECK_ROWS = 64
DELIVERY_CHECK_SECONDS = 0.2


def _recorder(engine) -> SentRecorder:
    recorder = current_app.extensions.get("outbox_sent_recorder")
    if recorder is None or recorder.pid != os.getpid() or recorder.engine is not engine:
        recorder = SentRecorder(engine)
        current_app.extensions["outbox_sent_recorder"] = recorder
    return recorder


def record_sent(plan: Plan, outcome: Outcome, worker_id: str) -> bool:
    """Commit one accepted send now (and spend the subscribe credit it used). False: the
    row is no longer this worker's (its lease expired and another worker took it)."""
    route = plan.route
    now = utcnow()
    params = {"b_id": plan.row_id, "b_worker": worker_id, "b_now": now,
              "b_msgid": outcome.msgid, "b_channel": route.channel, "b_app": route.app,
              "b_touser": route.address if route.app else _mask(route.address),
              "b_template": outcome.template_id, "b_openid": route.address}
    spends = route.channel == "subscribe"
    engine = db.engine
    dialect = engine.dialect.name
    if dialect == "postgresql":
        with_credit, without = _statements(dialect)
        ours = _recorder(engine).execute(with_credit if spends else without, params) > 0
    else:
        mark, spend = _statements(dialect)
        try:
            ours = db.session.execute(mark, params).rowcount > 0
            if ours and spends:
                db.session.execute(spend, params)
            db.session.commit()
        finally:
            db.session.rollback()
    send_log.result(plan, worker_id, OutboxStatus.SENT if ours else None)
    if (ours and outcome.msgid and route.app
            and _recorder(engine).note_delivery(plan.row_id, route.app, outcome.msgid)):
        apply_early_deliveries()
    return ours


def apply_early_deliveries() -> int:
    """Apply the delivery results that came before their sends were recorded (they wait
    in Redis), for the sends recorded since the last look: one Redis round trip."""
    recorder = current_app.extensions.get("outbox_sent_recorder")
    items = recorder.take_deliveries() if recorder is not None else []
    if not items:
        return 0
    applied = 0
    try:
        pipe = redis_store.client.pipeline(transaction=False)
        for _, app_name, msgid in items:
            pipe.exists(pending_delivery_key(app_name, msgid))
        for (row_id, _, _), waiting in zip(items, pipe.execute(), strict=True):
            if waiting:
                row = db.session.get(OutboxMessage, row_id, with_for_update=True)
                if row is not None and apply_pending_delivery(row):
                    db.session.commit()
                    applied += 1
    except Exception:  # the sends are recorded; only their early delivery results wait
        log.warning("applying early delivery results failed", exc_info=True)
    finally:
        db.session.rollback()
    return applied


def claim(limit: int, worker_id: str, now: datetime | None = None) -> list[Plan]:
    """Take and plan due rows (app.services.notifications.claim), first applying early
    delivery results of the sends recorded since the last claim."""
    apply_early_deliveries()
    return claim_rows(limit, worker_id, now)


# --- every other outcome: retry with backoff, final failure, unreachable --------------

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
    if outcome.status == "retry" and row.attempts < MAX_ATTEMPTS:
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
    send_log.result(plan, worker_id, row.status, errcode=outcome.errcode)
    return row.status


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

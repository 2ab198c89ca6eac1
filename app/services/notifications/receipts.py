"""Delivery results pushed by WeChat (TEMPLATESENDJOBFINISH, subscribe_msg_sent_event).

`record_delivery` moves the matching outbox row forward to delivered or failed, in one
transaction. A row never moves backwards: a read row stays read, a delivered or failed
row keeps its state. An event changes only rows of its own app and WeChat channel
(subscribe for mp, oa_template for oa; a row not routed yet has no channel), never an SMS
or e-mail row, whatever msgid and openid it names.

The usual case (the msgid names a row the result moves forward) is one UPDATE ...
RETURNING, one round trip in autocommit on PostgreSQL: WeChat pushes one event per
message sent. Anything else (no row moved) takes the general path, which locks the rows
it finds and applies `_apply`; both are written from OPEN_STATUSES and READ.

WeChat may push the event before the dispatcher has committed the send's msgid (the
sandbox's auto push waits only 0.3 s). A result that matches no row is kept in Redis for
a day; the dispatcher can call `apply_pending_delivery(row)` after recording the msgid.
"""
from __future__ import annotations

import json
import logging

from sqlalchemy import Integer, bindparam, case, func, or_, select, update

from app.core import sqlwrite
from app.core.timeutil import utcnow
from app.core.transaction import single_statement
from app.extensions import db, redis_store
from app.models import OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)

# Rows a delivery result may move forward (a msgid exists only once WeChat accepted).
OPEN_STATUSES = (OutboxStatus.QUEUED, OutboxStatus.SENDING, OutboxStatus.RETRYING,
                 OutboxStatus.SENT)
PENDING_TTL = 86400


def explain_status(status_text: str | None) -> str:
    """Chinese explanation of a failed delivery status for HR."""
    text = (status_text or "").lower()
    if "user block" in text or "refuse" in text:
        return "用户拒收消息"
    if "system fail" in text:
        return "微信系统错误"
    return status_text or "投递失败"


# The WeChat channel each app's delivery events report on.
CHANNEL_OF_APP = {"mp": "subscribe", "oa": "oa_template"}


def _app_filter(app: str):
    """Rows of this app and its WeChat channel only: an SMS or e-mail row (no app; its
    msgid is a serial number or Message-ID that may look like a WeChat MsgID) or the
    other app's row is never touched by a delivery event."""
    return (OutboxMessage.app == app) & or_(OutboxMessage.channel == CHANNEL_OF_APP[app],
                                            OutboxMessage.channel.is_(None))


def _find_rows(app: str, msgid: str, openid: str, template_id: str | None) -> list:
    rows = list(db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.msgid == msgid, OutboxMessage.touser == openid, _app_filter(app))
        .with_for_update()))
    if rows or app != "mp" or not template_id:
        return rows
    # The subscribe send's msgid is undocumented: fall back to the latest sent message of
    # this template to this user that has no delivery yet.
    row = db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.touser == openid, OutboxMessage.template_id == template_id,
               OutboxMessage.status == OutboxStatus.SENT,
               OutboxMessage.delivered_at.is_(None), _app_filter(app))
        .order_by(OutboxMessage.sent_at.desc().nulls_last(), OutboxMessage.id.desc())
        .limit(1).with_for_update()).first()
    return [row] if row is not None else []


def _apply(row: OutboxMessage, *, msgid: str, ok: bool, errcode: int | None,
           status_text: str) -> bool:
    """Move one row forward; False when the result would move it backwards or sideways."""
    if ok:
        if row.status in OPEN_STATUSES:
            row.status = OutboxStatus.DELIVERED
            row.delivered_at = utcnow()
        elif row.status == OutboxStatus.READ and row.delivered_at is None:
            row.delivered_at = utcnow()  # opened before the event came: keep READ
        else:
            return False
    elif row.status in OPEN_STATUSES:
        row.status = OutboxStatus.FAILED
        if errcode is not None:
            row.errcode = errcode
        row.last_error = explain_status(status_text)
    else:
        return False
    if row.msgid is None:
        row.msgid = msgid
    return True


_STATEMENTS: dict = {}


def _forward_statement(ok: bool):
    """The usual case as one UPDATE ... RETURNING: the rows this msgid names for this
    user, app and channel that the result moves forward (the rule of `_apply`, written
    from the same statuses)."""
    found = _STATEMENTS.get(ok)
    if found is not None:
        return found
    m = OutboxMessage
    is_open = m.status.in_([sqlwrite.constant(s) for s in OPEN_STATUSES])
    named = (m.msgid == bindparam("d_msgid"), m.touser == bindparam("d_openid"),
             m.app == bindparam("d_app"),
             or_(m.channel == bindparam("d_channel"), m.channel.is_(None)))
    if ok:
        read_undelivered = ((m.status == sqlwrite.constant(OutboxStatus.READ))
                            & m.delivered_at.is_(None))
        stmt = (update(m).where(*named, is_open | read_undelivered)
                .values(status=case((is_open, sqlwrite.constant(OutboxStatus.DELIVERED)),
                                    else_=m.status),
                        delivered_at=bindparam("d_now"), updated_at=bindparam("d_now")))
    else:
        stmt = (update(m).where(*named, is_open)
                .values(status=sqlwrite.constant(OutboxStatus.FAILED),
                        errcode=func.coalesce(bindparam("d_errcode", type_=Integer), m.errcode),
                        last_error=bindparam("d_error"), updated_at=bindparam("d_now")))
    found = _STATEMENTS[ok] = stmt.returning(m.id)
    return found


def _move_forward(app: str, msgid: str, openid: str, ok: bool, errcode: int | None,
                  status_text: str) -> int:
    """Rows changed by the one-statement path (0: none moved; the general path decides
    whether that is a result for a row not sent yet)."""
    values = {"d_msgid": msgid, "d_openid": openid, "d_app": app,
              "d_channel": CHANNEL_OF_APP[app], "d_now": utcnow(), "d_errcode": errcode,
              "d_error": explain_status(status_text)}
    stmt = _forward_statement(ok)
    with single_statement() as unit:
        if unit.postgres:
            prepared = _STATEMENTS.get(("pg", ok))
            if prepared is None:
                prepared = _STATEMENTS[("pg", ok)] = sqlwrite.Prepared(stmt, db.engine.dialect)
            with unit.conn.cursor() as cursor:
                cursor.execute(prepared.sql, prepared.params(values))
                return len(cursor.fetchall())
        return len(unit.sa.execute(stmt, values).all())


def record_delivery(*, app: str, msgid: str, openid: str, template_id: str | None, ok: bool,
                    errcode: int | None, status_text: str) -> int:
    """Record one delivery result; returns the number of outbox rows changed."""
    if app not in CHANNEL_OF_APP:
        raise ValueError(f"app must be 'mp' or 'oa', got {app!r}")
    msgid = str(msgid)
    changed = _move_forward(app, msgid, openid, ok, errcode, status_text)
    if changed:
        return changed
    try:
        rows = _find_rows(app, msgid, openid, template_id)
        changed = sum(_apply(row, msgid=msgid, ok=ok, errcode=errcode, status_text=status_text)
                      for row in rows)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    if not rows:
        log.info("delivery for unknown msgid %s (%s, %s) kept for later", msgid, app, openid)
        _remember(app, msgid, {"openid": openid, "template_id": template_id, "ok": ok,
                               "errcode": errcode, "status_text": status_text})
    return changed


def _pending_key(app: str, msgid: str) -> str:
    return redis_store.key("delivery-pending", app, msgid)


def _remember(app: str, msgid: str, result: dict) -> None:
    redis_store.client.set(_pending_key(app, msgid), json.dumps(result), ex=PENDING_TTL)


def pending_delivery_key(app_name: str, msgid: str) -> str:
    """Where a delivery result that arrived before its msgid was stored waits."""
    return _pending_key(app_name, msgid)


def apply_pending_delivery(row: OutboxMessage) -> bool:
    """Apply a delivery result that arrived before `row` had its msgid.

    Does not commit: call it inside the transaction that records the send.
    """
    if not row.msgid or row.app not in CHANNEL_OF_APP \
            or row.channel not in (CHANNEL_OF_APP[row.app], None):
        return False
    key = _pending_key(row.app, row.msgid)
    raw = redis_store.client.get(key)
    if raw is None:
        return False
    result = json.loads(raw)
    if result["openid"] != row.touser:
        return False
    redis_store.client.delete(key)
    return _apply(row, msgid=row.msgid, ok=result["ok"], errcode=result["errcode"],
                  status_text=result["status_text"])

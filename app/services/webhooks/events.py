"""Webhooks to the company's ATS / ERP / OA: the event catalogue, the payload, and queueing
deliveries inside the caller's transaction.

Managing endpoints lives in app.services.webhooks.endpoints; sending (signing, retries,
disabling) in app.services.webhooks.sender.
"""
from __future__ import annotations

import json
from datetime import datetime
from functools import cache

from sqlalchemy import func, select

from app.core import sqlwrite
from app.core.timeutil import iso, utcnow
from app.extensions import db
from app.models import CancelReason, Interview
from app.models.webhook import DeliveryStatus, WebhookDelivery, WebhookEndpoint

EVENTS = (
    "interview.cancelled",
    "interview.cancel_requested",
    "interview.cancel_approved",
    "interview.cancel_rejected",
    "interview.rescheduled",
    "notification.failed",
    # issue 11 §4-5: a candidate booked an offered slot; a rescheduling promise was broken
    "interview.booked",
    "promise.broken",
)
EVENT_LABELS = {
    "interview.cancelled": "面试已取消",
    "interview.cancel_requested": "候选人申请取消面试",
    "interview.cancel_approved": "取消申请已批准",
    "interview.cancel_rejected": "取消申请已驳回",
    "interview.rescheduled": "面试已改期",
    "notification.failed": "通知发送失败",
    "interview.booked": "候选人预约了面试（重新安排或候补补位）",
    "promise.broken": "重新安排承诺未兑现",
}
# --- events and payloads ---------------------------------------------------------------

def interview_payload(interview: Interview, *, reason: CancelReason | None = None,
                      actor_type: str, actor_id: int | None, at: datetime) -> dict:
    """What the company's systems learn about an interview event. Never the phone number:
    the candidate is identified by the ATS reference the interview was imported with."""
    position = interview.position
    candidate = interview.candidate
    return {
        "occurred_at": iso(at),
        "interview": {
            "id": interview.public_id,
            "number": interview.number,
            "status": interview.status.value,
            "scheduled_at": iso(interview.scheduled_at),
            "position": {"title": position.title, "department": position.department},
        },
        "candidate": {
            "ref": candidate.external_ref or f"candidate-{candidate.id}",
            "name": candidate.name,
        },
        "reason": {"code": reason.code, "label": reason.label} if reason is not None else None,
        "actor": {"type": actor_type, "id": actor_id},
    }


DEDUPE = ("endpoint_id", "event_id")  # an event reaches an endpoint once, on every path


def delivery_row(*, endpoint_id: int, event_type: str, event_id: str, body: dict,
                 now=None, request_id: str | None = None) -> dict:
    """The row builder: one queued delivery of an event's body to an endpoint
    (`request_id`: the request that queued it, Actor.request_id)."""
    now = now or utcnow()
    return dict(endpoint_id=endpoint_id, event_id=event_id, event_type=event_type,
                payload=body, status=DeliveryStatus.QUEUED, attempts=0,
                next_attempt_at=now, created_at=now, updated_at=now, request_id=request_id)


def write(connection, rows: list[dict]) -> int:
    """The writer: insert these deliveries on the caller's connection, skipping an event
    already queued for an endpoint. Returns how many were queued."""
    # Count the returned rows: rowcount is not reliable across drivers here.
    return len(sqlwrite.insert_set(connection, WebhookDelivery.__table__, rows,
                                   conflict=DEDUPE, returning=("id",)))


def active_endpoints(connection) -> list[tuple[int, list[str]]]:
    table = WebhookEndpoint.__table__
    return [(r.id, r.events or []) for r in connection.execute(
        select(table.c.id, table.c.events).where(table.c.active.is_(True))
        .order_by(table.c.id))]  # deliveries are queued in the endpoints' order


def enqueue_event(event_type: str, event_id: str, payload: dict, connection=None) -> int:
    """Queue one delivery per active endpoint subscribed to this event, inside the caller's
    transaction (no commit). An event already queued for an endpoint is skipped, so an event
    is never delivered twice to one endpoint. Returns how many deliveries were queued."""
    connection = connection if connection is not None else db.session.connection()
    body = event_body(event_type, event_id, payload)
    now = utcnow()
    return write(connection, [
        delivery_row(endpoint_id=endpoint_id, event_type=event_type, event_id=event_id,
                     body=body, now=now)
        for endpoint_id, events in active_endpoints(connection) if event_type in events])


def subscribed_endpoints_column(dialect_name: str):
    """A scalar subquery for a SELECT list: the active endpoints as JSON
    `[{"id": 1, "events": [...]}, ...]` (or NULL when there are none), so a caller's one
    read also learns where its event goes. Read with endpoints_subscribed()."""
    table = WebhookEndpoint.__table__
    if dialect_name == "postgresql":
        agg = func.json_agg(func.json_build_object("id", table.c.id, "events", table.c.events))
    else:
        agg = func.json_group_array(func.json_object("id", table.c.id,
                                                     "events", func.json(table.c.events)))
    return (select(agg).where(table.c.active.is_(True)).scalar_subquery()
            .label("webhook_endpoints"))


def endpoints_subscribed(column_value, event_type: str) -> list[int]:
    """The ids, from subscribed_endpoints_column(), of the endpoints taking this event."""
    if column_value is None:
        return []
    endpoints = json.loads(column_value) if isinstance(column_value, str) else column_value
    return [e["id"] for e in endpoints if event_type in (e.get("events") or [])]


@cache
def delivery_rows(count: int) -> list:
    """INSERTs of the deliveries of one new event (its id has never been queued: the
    caller's transaction created it) to `count` endpoints, for callers writing with SQL
    statements (app.sqlwrite): the parameters of delivery_params(), and `now` shared with
    the caller."""
    return sqlwrite.insert_rows(
        WebhookDelivery.__table__, count, "w", ("endpoint_id",),
        shared={"event_id": "event", "event_type": "webhook_event_type",
                "payload": "webhook_payload", "status": sqlwrite.constant(DeliveryStatus.QUEUED),
                "attempts": sqlwrite.constant(0), "next_attempt_at": "now",
                "created_at": "now", "updated_at": "now", "request_id": "trail_request_id"},
        conflict=DEDUPE)


def delivery_params(event_type: str, event_id: str, payload: dict, endpoint_ids: list[int],
                    request_id: str | None = None) -> dict:
    params = sqlwrite.rows_params("w", [dict(endpoint_id=e) for e in endpoint_ids])
    params.update(event=event_id, webhook_event_type=event_type,
                  webhook_payload=event_body(event_type, event_id, payload),
                  trail_request_id=request_id)
    return params


def event_body(event_type: str, event_id: str, payload: dict) -> dict:
    """What a delivery sends: the event's type and id, then its payload."""
    if event_type not in EVENTS:
        raise ValueError(f"unknown webhook event {event_type!r}")
    return {"event": event_type, "event_id": event_id,
            **{k: v for k, v in payload.items() if k not in ("event", "event_id")}}

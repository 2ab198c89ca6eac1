"""Webhooks to the company's ATS / ERP / OA: the event catalogue, the payload, queueing
deliveries inside the caller's transaction, and managing endpoints.

Sending (signing, retries, disabling) lives in app.services.webhook_sender.
"""
from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from datetime import datetime
from functools import cache
from urllib.parse import urlparse

from sqlalchemy import func, select

from app.core import sqlwrite
from app.core.errors import NotFound, ValidationFailed
from app.core.timeutil import iso, utcnow
from app.extensions import db
from app.models import CancelReason, Interview
from app.models.webhook import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from app.services import audit

EVENTS = (
    "interview.cancelled",
    "interview.cancel_requested",
    "interview.cancel_approved",
    "interview.cancel_rejected",
    "interview.rescheduled",
    "notification.failed",
)
EVENT_LABELS = {
    "interview.cancelled": "面试已取消",
    "interview.cancel_requested": "候选人申请取消面试",
    "interview.cancel_approved": "取消申请已批准",
    "interview.cancel_rejected": "取消申请已驳回",
    "interview.rescheduled": "面试已改期",
    "notification.failed": "通知发送失败",
}
MIN_SECRET_LENGTH = 16


class WebhookEndpointNotFound(NotFound):
    code = "webhook_endpoint_not_found"
    message = "未找到该Webhook地址"


class InvalidWebhookName(ValidationFailed):
    code = "invalid_webhook_name"
    message = "请填写名称（不超过100个字）"


class InvalidWebhookUrl(ValidationFailed):
    code = "invalid_webhook_url"
    message = "请填写以 http:// 或 https:// 开头的有效地址"


class InvalidWebhookEvents(ValidationFailed):
    code = "invalid_webhook_events"
    message = "请至少选择一个有效的事件"


class WeakWebhookSecret(ValidationFailed):
    code = "weak_webhook_secret"
    message = f"签名密钥至少需要{MIN_SECRET_LENGTH}个字符"


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
                 now=None) -> dict:
    """The row builder: one queued delivery of an event's body to an endpoint."""
    now = now or utcnow()
    return dict(endpoint_id=endpoint_id, event_id=event_id, event_type=event_type,
                payload=body, status=DeliveryStatus.QUEUED, attempts=0,
                next_attempt_at=now, created_at=now, updated_at=now)


def write(connection, rows: list[dict]) -> int:
    """The writer: insert these deliveries on the caller's connection, skipping an event
    already queued for an endpoint. Returns how many were queued."""
    # Count the returned rows: rowcount is not reliable across drivers here.
    return len(sqlwrite.insert_set(connection, WebhookDelivery.__table__, rows,
                                   conflict=DEDUPE, returning=("id",)))


def active_endpoints(connection) -> list[tuple[int, list[str]]]:
    table = WebhookEndpoint.__table__
    return [(r.id, r.events or []) for r in connection.execute(
        select(table.c.id, table.c.events).where(table.c.active.is_(True)))]


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
                "created_at": "now", "updated_at": "now"},
        conflict=DEDUPE)


def delivery_params(event_type: str, event_id: str, payload: dict, endpoint_ids: list[int]
                    ) -> dict:
    params = sqlwrite.rows_params("w", [dict(endpoint_id=e) for e in endpoint_ids])
    params.update(event=event_id, webhook_event_type=event_type,
                  webhook_payload=event_body(event_type, event_id, payload))
    return params


def event_body(event_type: str, event_id: str, payload: dict) -> dict:
    """What a delivery sends: the event's type and id, then its payload."""
    if event_type not in EVENTS:
        raise ValueError(f"unknown webhook event {event_type!r}")
    return {"event": event_type, "event_id": event_id,
            **{k: v for k, v in payload.items() if k not in ("event", "event_id")}}


# --- endpoint management (one transaction each) ---------------------------------------

def create_endpoint(*, name: str, url: str, events: Iterable[str], actor_id: int | None,
                    secret: str | None = None) -> WebhookEndpoint:
    """An admin adds a receiver; without a secret a strong one is generated (shown in the
    console, stored encrypted)."""
    endpoint = WebhookEndpoint(name=_check_name(name), url=_check_url(url),
                               events=_check_events(events), active=True,
                               consecutive_failures=0, created_by=actor_id)
    endpoint.secret = _check_secret(secret) if secret is not None else generate_secret()
    db.session.add(endpoint)
    try:
        db.session.flush()
        audit.record(actor_type="hr", actor_id=actor_id, action="webhook.created",
                     object_type="webhook_endpoint", object_id=endpoint.id,
                     data={"name": endpoint.name, "url": endpoint.url,
                           "events": endpoint.events})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return endpoint


def update_endpoint(endpoint_id: int, *, actor_id: int | None, name: str | None = None,
                    url: str | None = None, events: Iterable[str] | None = None,
                    secret: str | None = None, rotate_secret: bool = False
                    ) -> WebhookEndpoint:
    """Change name, URL, events or secret; only the given fields change. Deliveries already
    queued keep their events; a new URL or secret applies from the next attempt."""
    endpoint = _get(endpoint_id)
    changes: dict = {}
    if name is not None and name.strip() != endpoint.name:
        endpoint.name = changes["name"] = _check_name(name)
    if url is not None and url.strip() != endpoint.url:
        changes["url"] = {"from": endpoint.url, "to": _check_url(url)}
        endpoint.url = changes["url"]["to"]
    if events is not None:
        checked = _check_events(events)
        if checked != endpoint.events:
            changes["events"] = {"from": endpoint.events, "to": checked}
            endpoint.events = checked
    if secret is not None or rotate_secret:
        endpoint.secret = _check_secret(secret) if secret is not None else generate_secret()
        changes["secret_rotated"] = True  # never the secret itself
    if changes:
        audit.record(actor_type="hr", actor_id=actor_id, action="webhook.updated",
                     object_type="webhook_endpoint", object_id=endpoint.id, data=changes)
    _commit()
    return endpoint


def disable_endpoint(endpoint_id: int, *, actor_id: int | None,
                     reason: str | None = None) -> WebhookEndpoint:
    """An admin pauses an endpoint: its queued deliveries wait until it is enabled again."""
    endpoint = _get(endpoint_id)
    if endpoint.active:
        endpoint.active = False
        endpoint.disabled_at = utcnow()
        endpoint.disabled_reason = (reason or "管理员手动停用")[:500]
        audit.record(actor_type="hr", actor_id=actor_id, action="webhook.disabled",
                     object_type="webhook_endpoint", object_id=endpoint.id,
                     data={"reason": endpoint.disabled_reason, "automatic": False})
    _commit()
    return endpoint


def enable_endpoint(endpoint_id: int, *, actor_id: int | None) -> WebhookEndpoint:
    """Resume an endpoint (after the receiver was fixed): the failure count starts over and
    waiting deliveries are tried again (each at least once, even past its 24 h window)."""
    endpoint = _get(endpoint_id)
    if not endpoint.active:
        previous = endpoint.disabled_reason
        endpoint.active = True
        endpoint.consecutive_failures = 0
        endpoint.disabled_at = None
        endpoint.disabled_reason = None
        audit.record(actor_type="hr", actor_id=actor_id, action="webhook.enabled",
                     object_type="webhook_endpoint", object_id=endpoint.id,
                     data={"previous_disabled_reason": previous})
    _commit()
    return endpoint


def generate_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _get(endpoint_id: int) -> WebhookEndpoint:
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise WebhookEndpointNotFound()
    return endpoint


def _commit() -> None:
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise InvalidWebhookName(details={"field": "name"})
    return name


def _check_url(url: str) -> str:
    url = (url or "").strip()
    try:
        parsed = urlparse(url)
        port_ok = parsed.port is None or 0 < parsed.port < 65536
    except ValueError:
        port_ok = False
    if (not port_ok or parsed.scheme not in ("http", "https") or not parsed.hostname
            or len(url) > 500 or any(c.isspace() for c in url)):
        raise InvalidWebhookUrl(details={"field": "url"})
    return url


def _check_events(events: Iterable[str]) -> list[str]:
    if isinstance(events, str):
        events = [events]
    chosen = set(events or ())
    unknown = sorted(chosen - set(EVENTS))
    if not chosen or unknown:
        raise InvalidWebhookEvents(details={"field": "events", "unknown": unknown,
                                            "allowed": list(EVENTS)})
    return [e for e in EVENTS if e in chosen]  # catalogue order, no duplicates


def _check_secret(secret: str) -> str:
    if len(secret) < MIN_SECRET_LENGTH or secret != secret.strip():
        raise WeakWebhookSecret(details={"field": "secret", "min_length": MIN_SECRET_LENGTH})
    return secret

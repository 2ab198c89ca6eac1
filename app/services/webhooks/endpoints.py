"""Webhook endpoints as admins manage them in the console (permission "settings"):
register, edit URL and events, rotate the signing secret (each new secret is returned
once, to be shown once, and stored encrypted), pause and re-enable, a test event, the
delivery log, and sending failed events again.

URLs: http or https with a host; https only in production; the SSRF guard of urlguard
(no private, loopback or link-local hosts unless WEBHOOK_ALLOW_PRIVATE_HOSTS).
Re-enabling resumes the deliveries that were waiting; events that finally failed are
queued again only when the admin asks for it (重新投递失败的事件).
Audit entries carry before and after; never the secret.
"""
from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from math import ceil
from urllib.parse import urlparse

from sqlalchemy import and_, func, select, update

from app.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.core.timeutil import iso, utcnow
from app.extensions import db
from app.models.webhook import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from app.services import audit
from app.services.notifications import outbox
from app.services.users.actor import Actor
from app.services.webhooks import events as catalogue
from app.services.webhooks import urlguard

PING = "ping"
EVENT_CHOICES = [(e, catalogue.EVENT_LABELS[e]) for e in catalogue.EVENTS]
EVENT_LABELS = {**catalogue.EVENT_LABELS, PING: "测试事件"}
PER_PAGE = 20


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


@dataclass(frozen=True)
class WithSecret:
    endpoint: WebhookEndpoint
    secret: str  # shown once, never again


@dataclass(frozen=True)
class DeliveryPage:
    items: list[WebhookDelivery]
    attempts: dict[int, list[WebhookAttempt]]
    page: int
    pages: int
    total: int

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


# --- reading -----------------------------------------------------------------------------

def list_endpoints(actor: Actor) -> list[WebhookEndpoint]:
    """Every endpoint with its state (admins with the settings permission)."""
    _allowed(actor)
    return list(db.session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)))


def get_endpoint(endpoint_id: int, actor: Actor) -> WebhookEndpoint:
    """One endpoint."""
    _allowed(actor)
    return _get(endpoint_id)


def failed_since_last_success(endpoint_id: int, actor: Actor) -> int:
    """How many events finally failed since the endpoint's last success (what
    重新投递失败的事件 would queue again)."""
    endpoint = get_endpoint(endpoint_id, actor)
    return db.session.scalar(select(func.count()).select_from(WebhookDelivery)
                             .where(_failed_since_success(endpoint)))


def deliveries(endpoint_id: int, actor: Actor, *, page: int = 1,
               per_page: int = PER_PAGE) -> DeliveryPage:
    """The endpoint's deliveries, newest first, with every attempt of each."""
    get_endpoint(endpoint_id, actor)
    total = db.session.scalar(select(func.count()).select_from(WebhookDelivery)
                              .where(WebhookDelivery.endpoint_id == endpoint_id))
    pages = max(1, ceil(total / per_page))
    page = min(max(1, page), pages)
    items = list(db.session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookDelivery.id.desc()).limit(per_page).offset((page - 1) * per_page)))
    attempts: dict[int, list[WebhookAttempt]] = {d.id: [] for d in items}
    if items:
        for attempt in db.session.scalars(select(WebhookAttempt).where(
                WebhookAttempt.delivery_id.in_(list(attempts))).order_by(WebhookAttempt.id)):
            attempts[attempt.delivery_id].append(attempt)
    return DeliveryPage(items, attempts, page, pages, total)


# --- changing ----------------------------------------------------------------------------

def create_endpoint(actor: Actor, *, name: str, url: str, events: Iterable[str]
                    ) -> WithSecret:
    """An admin registers a receiver; its signing secret is generated, returned once and
    stored encrypted."""
    _allowed(actor)
    secret = generate_secret()
    endpoint = WebhookEndpoint(name=_check_name(name), url=check_url(url),
                               events=_check_events(events), active=True,
                               consecutive_failures=0, created_by=actor.id)
    endpoint.secret = secret
    db.session.add(endpoint)
    db.session.flush()
    _audit(actor, "webhook.created", endpoint, {"before": None, "after": _state(endpoint)})
    db.session.commit()
    return WithSecret(endpoint, secret)


def update_endpoint(endpoint_id: int, actor: Actor, *, name: str, url: str,
                    events: Iterable[str]) -> bool:
    """Change name, URL and events. Deliveries already queued keep their events; a new
    URL applies from the next attempt. Returns whether anything changed."""
    endpoint = get_endpoint(endpoint_id, actor)
    before = _state(endpoint)
    name = _check_name(name)
    url = url.strip() if url else url
    new_url = endpoint.url if url == endpoint.url else check_url(url)
    chosen = _check_events(events)
    endpoint.name, endpoint.url, endpoint.events = name, new_url, chosen
    after = _state(endpoint)
    if after == before:
        db.session.rollback()
        return False
    changed = [k for k in after if after[k] != before[k]]
    _audit(actor, "webhook.updated", endpoint, {"before": {k: before[k] for k in changed},
                                                "after": {k: after[k] for k in changed}})
    db.session.commit()
    return True


def rotate_secret(endpoint_id: int, actor: Actor) -> WithSecret:
    """A new signing secret, returned once; the old one stops at the next attempt."""
    endpoint = get_endpoint(endpoint_id, actor)
    secret = generate_secret()
    endpoint.secret = secret
    _audit(actor, "webhook.secret_rotated", endpoint, {"secret_rotated": True})
    db.session.commit()
    return WithSecret(endpoint, secret)


def disable_endpoint(endpoint_id: int, actor: Actor) -> bool:
    """An admin pauses an endpoint: new events are not queued for it, queued ones wait."""
    endpoint = get_endpoint(endpoint_id, actor)
    if not endpoint.active:
        return False
    endpoint.active = False
    endpoint.disabled_at = utcnow()
    endpoint.disabled_reason = "管理员手动停用"
    _audit(actor, "webhook.disabled", endpoint,
           {"before": {"active": True}, "after": {"active": False,
                                                  "disabled_reason": endpoint.disabled_reason}})
    db.session.commit()
    return True


def enable_endpoint(endpoint_id: int, actor: Actor, *, resend_failed: bool = False) -> int:
    """Re-enable an endpoint (the receiver was fixed): the failure count starts over and
    the deliveries that were waiting go out again; events that finally failed are queued
    again only with resend_failed. Returns how many were queued again."""
    endpoint = get_endpoint(endpoint_id, actor)
    if endpoint.active:
        raise Conflict("该地址已是启用状态", code="webhook_endpoint_active")
    before = {"active": False, "disabled_reason": endpoint.disabled_reason,
              "disabled_at": iso(endpoint.disabled_at) if endpoint.disabled_at else None,
              "consecutive_failures": endpoint.consecutive_failures}
    requeued = _requeue_failed(endpoint) if resend_failed else 0
    endpoint.active = True
    endpoint.consecutive_failures = 0
    endpoint.disabled_at = None
    endpoint.disabled_reason = None
    _audit(actor, "webhook.enabled", endpoint,
           {"before": before, "after": {"active": True, "disabled_reason": None,
                                        "disabled_at": None, "consecutive_failures": 0},
            "requeued_failed": requeued})
    db.session.commit()
    outbox.wake_dispatcher()
    return requeued


def resend_failed(endpoint_id: int, actor: Actor) -> int:
    """Queue again the events that finally failed since the endpoint's last success (an
    active endpoint whose receiver lost them). Returns how many."""
    endpoint = get_endpoint(endpoint_id, actor)
    if not endpoint.active:
        raise Conflict("该地址已停用，请在重新启用时选择重新投递失败的事件",
                       code="webhook_endpoint_disabled")
    requeued = _requeue_failed(endpoint)
    if requeued:
        _audit(actor, "webhook.failed_requeued", endpoint, {"requeued_failed": requeued})
    db.session.commit()
    outbox.wake_dispatcher()
    return requeued


def send_test(endpoint_id: int, actor: Actor) -> WebhookDelivery:
    """Queue a `ping` delivery to this endpoint through the normal path (signed, retried,
    logged like any event); its result shows in the delivery log."""
    endpoint = get_endpoint(endpoint_id, actor)
    if not endpoint.active:
        raise Conflict("该地址已停用，请先重新启用再发送测试事件",
                       code="webhook_endpoint_disabled")
    now = utcnow()
    event_id = f"{PING}:{endpoint.id}:{uuid.uuid4().hex}"
    body = {"event": PING, "event_id": event_id, "occurred_at": iso(now),
            "endpoint": {"id": endpoint.id, "name": endpoint.name},
            "message": "这是一条测试事件，收到即表示配置正确"}
    catalogue.write(db.session.connection(), [catalogue.delivery_row(
        endpoint_id=endpoint.id, event_type=PING, event_id=event_id, body=body, now=now)])
    delivery = db.session.scalars(select(WebhookDelivery).where(
        WebhookDelivery.endpoint_id == endpoint.id,
        WebhookDelivery.event_id == event_id)).one()
    _audit(actor, "webhook.test_sent", endpoint, {"delivery_id": delivery.id})
    db.session.commit()
    outbox.wake_dispatcher()
    return delivery


# --- URL rules ---------------------------------------------------------------------------

def check_url(url: str) -> str:
    """A receiver URL as the catalogue checks it (http/https, host, port, length), https
    in production, and the SSRF guard of urlguard."""
    url = _check_url(url)
    parsed = urlparse(url)
    if urlguard.https_required() and parsed.scheme != "https":
        raise InvalidWebhookUrl("生产环境只允许 https:// 地址", code="webhook_https_required",
                                details={"field": "url"})
    try:
        urlguard.check_host(parsed.hostname, parsed.port)
    except urlguard.HostRefused as exc:
        raise InvalidWebhookUrl(exc.message, code=exc.code,
                                details={"field": "url", "addresses": exc.addresses}) from None
    return url


# --- helpers -----------------------------------------------------------------------------

def _allowed(actor: Actor) -> None:
    """Admins (permission "settings"); system actors (operator commands, test setup) too."""
    if not actor.can("settings"):
        raise Forbidden()


def _state(endpoint: WebhookEndpoint) -> dict:
    return {"name": endpoint.name, "url": endpoint.url, "events": list(endpoint.events or [])}


def _audit(actor: Actor, action: str, endpoint: WebhookEndpoint, data: dict) -> None:
    audit.record(actor_type=actor.type, actor_id=actor.id, action=action,
                 object_type="webhook_endpoint", object_id=endpoint.id, data=data,
                 ip=actor.ip)


def _failed_since_success(endpoint: WebhookEndpoint):
    condition = [WebhookDelivery.endpoint_id == endpoint.id,
                 WebhookDelivery.status == DeliveryStatus.FAILED]
    if endpoint.last_success_at is not None:
        condition.append(WebhookDelivery.updated_at >= endpoint.last_success_at)
    return and_(*condition)


def _requeue_failed(endpoint: WebhookEndpoint) -> int:
    # A new 24-hour window from the next attempt (first_attempt_at starts again); the
    # attempt count and log go on.
    now: datetime = utcnow()
    return db.session.execute(
        update(WebhookDelivery).where(_failed_since_success(endpoint))
        .values(status=DeliveryStatus.QUEUED, next_attempt_at=now, first_attempt_at=None,
                lease_until=None, claimed_by=None, updated_at=now)
        .execution_options(synchronize_session=False)).rowcount


def generate_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _get(endpoint_id: int) -> WebhookEndpoint:
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise WebhookEndpointNotFound()
    return endpoint


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
    unknown = sorted(chosen - set(catalogue.EVENTS))
    if not chosen or unknown:
        raise InvalidWebhookEvents(details={"field": "events", "unknown": unknown,
                                            "allowed": list(catalogue.EVENTS)})
    return [e for e in catalogue.EVENTS if e in chosen]  # catalogue order, no duplicates

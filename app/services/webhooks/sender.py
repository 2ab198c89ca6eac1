"""Sending webhook deliveries: claim, sign, POST, log the attempt, retry or give up.

Claiming works like the outbox dispatcher (app.services.dispatch.claim_due): candidate ids
are selected with FOR UPDATE SKIP LOCKED on PostgreSQL, then taken with a conditional
UPDATE that only matches rows still due (or whose lease expired), so two workers never
send one delivery. No database transaction stays open while the receiver is called.

Rules:
- 2xx is delivered; anything else (other status, redirect, timeout, connection error) is
  a failed attempt, retried with exponential backoff and jitter (30 s, 60 s, ... capped at
  1 h, or the receiver's Retry-After when longer) until 24 h after the first attempt; the
  first failed attempt after that makes the delivery `failed`.
- The endpoint is disabled after WEBHOOK_DISABLE_AFTER consecutive *deliveries* failed for
  good (each one already retried for 24 h); any delivered event resets the count. Counting
  final failures rather than attempts means a short outage (many events queued, each
  failing its first attempts) never disables an integration that would have recovered.
  HR is told through an audit entry and an outbox message to every active admin.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from flask import current_app
from sqlalchemy import and_, func, or_, select, update

from app.core.json_logs import log_fields
from app.core.timeutil import iso, utcnow
from app.extensions import db
from app.models import HrUser, Role
from app.models.webhook import (
    DELIVERY_DUE_STATUSES,
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from app.services import audit
from app.services.notifications import outbox
from app.services.webhooks import urlguard

log = logging.getLogger(__name__)

DEFAULTS = {
    "WEBHOOK_TIMEOUT": 5.0,                  # seconds, connect and read
    "WEBHOOK_RETRY_WINDOW_HOURS": 24,        # retry until this long after the first attempt
    "WEBHOOK_BACKOFF_BASE_SECONDS": 30,      # delay after the first failed attempt
    "WEBHOOK_BACKOFF_CAP_SECONDS": 3600,     # longest delay between attempts
    "WEBHOOK_DISABLE_AFTER": 5,              # consecutive finally-failed deliveries
}
STAFF_KIND = "staff_webhook_disabled"
USER_AGENT = "AIIC-Webhooks/1.0"
EXCERPT_CHARS = 500
_READ_LIMIT = 4096  # bytes of the response body read for the excerpt (never the whole body)


def _cfg(key: str):
    return current_app.config.get(key, DEFAULTS[key])


# --- signing -------------------------------------------------------------------------

def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """X-AIIC-Signature value: "sha256=" + hex HMAC-SHA256(secret, f"{timestamp}." + body)."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body,
                   hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(secret: str, timestamp: int | str, body: bytes, signature: str,
                     tolerance: int = 300, *, now: float | None = None) -> bool:
    """For receivers: the signature matches and the timestamp is within `tolerance` seconds
    of now (replayed old requests are refused). Constant-time comparison."""
    try:
        ts = int(str(timestamp).strip())
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if tolerance is not None and abs(current - ts) > tolerance:
        return False
    if not isinstance(signature, str) or not signature.startswith("sha256="):
        return False
    expected = sign(secret, ts, body)
    return hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("ascii",
                                                                              "replace"))


def encode_body(payload: dict) -> bytes:
    """The exact bytes POSTed (and signed): compact UTF-8 JSON, Chinese kept readable."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# --- claiming ------------------------------------------------------------------------

def _due(now: datetime):
    active = select(WebhookEndpoint.id).where(WebhookEndpoint.active.is_(True))
    return and_(
        WebhookDelivery.endpoint_id.in_(active),  # a disabled endpoint's deliveries wait
        or_(and_(WebhookDelivery.status.in_(DELIVERY_DUE_STATUSES),
                 WebhookDelivery.next_attempt_at <= now),
            and_(WebhookDelivery.status == DeliveryStatus.SENDING,
                 WebhookDelivery.lease_until < now)))


def claim_due(worker_id: str, limit: int) -> list[int]:
    """Take up to `limit` due deliveries for this worker; returns their ids (committed)."""
    # Without SKIP LOCKED (SQLite) two workers can pick the same candidates and the loser's
    # conditional UPDATE takes none: look again rather than report "nothing due".
    for _ in range(3):
        found, claimed = _claim_once(worker_id, limit)
        if claimed or not found:
            return claimed
    return []


def _claim_once(worker_id: str, limit: int) -> tuple[bool, list[int]]:
    now = utcnow()
    # Deliveries are sent one after another, so the lease covers the whole batch.
    lease = timedelta(seconds=float(_cfg("WEBHOOK_TIMEOUT")) * 2 * limit
                      + current_app.config.get("WORKER_LEASE_SECONDS", 60))
    stmt = (select(WebhookDelivery.id).where(_due(now))
            .order_by(WebhookDelivery.next_attempt_at).limit(limit))
    if db.engine.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    ids = list(db.session.scalars(stmt))
    if not ids:
        db.session.rollback()
        return False, []
    db.session.execute(
        update(WebhookDelivery).where(WebhookDelivery.id.in_(ids), _due(now))
        .values(status=DeliveryStatus.SENDING, claimed_by=worker_id, lease_until=now + lease,
                attempts=WebhookDelivery.attempts + 1,
                first_attempt_at=func.coalesce(WebhookDelivery.first_attempt_at, now))
        .execution_options(synchronize_session=False))
    db.session.commit()
    return True, list(db.session.scalars(
        select(WebhookDelivery.id).where(WebhookDelivery.id.in_(ids),
                                         WebhookDelivery.claimed_by == worker_id,
                                         WebhookDelivery.status == DeliveryStatus.SENDING)
        .order_by(WebhookDelivery.id)))


# --- sending -------------------------------------------------------------------------

@dataclass
class _Job:
    """Plain values of one claimed delivery, so no transaction is open during the POST."""

    delivery_id: int
    endpoint_id: int
    url: str
    secret: str | None
    event_type: str
    body: bytes
    attempt: int
    first_attempt_at: datetime
    request_id: str | None = None  # the request that queued it (sent as X-Request-Id)


@dataclass
class _Result:
    attempted_at: datetime
    duration_ms: int
    status_code: int | None = None
    error: str | None = None
    excerpt: str | None = None
    retry_after: int | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def dispatch_due(worker_id: str, limit: int = 20) -> int:
    """Claim due deliveries and send each one; returns how many were handled."""
    ids = claim_due(worker_id, limit)
    if not ids:
        return 0
    jobs = _load_jobs(ids, worker_id)
    notified = False
    for job in jobs:
        result = _post(job, worker_id)
        try:
            notified |= _record(job, result, worker_id)
        except Exception:
            # The lease expires and another round retries it; the attempt stays unlogged.
            log.exception("webhook delivery %s: could not record the attempt", job.delivery_id)
            db.session.rollback()
    if notified:
        outbox.wake_dispatcher()
    return len(jobs)


def _load_jobs(ids: list[int], worker_id: str) -> list[_Job]:
    rows = db.session.execute(
        select(WebhookDelivery, WebhookEndpoint)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.id.in_(ids), WebhookDelivery.claimed_by == worker_id,
               WebhookDelivery.status == DeliveryStatus.SENDING)
        .order_by(WebhookDelivery.id)).all()
    jobs = []
    for delivery, endpoint in rows:
        try:
            secret = endpoint.secret
        except ValueError:
            secret = None  # recorded as a failed attempt (key rotated without re-encryption)
        jobs.append(_Job(delivery.id, endpoint.id, endpoint.url, secret, delivery.event_type,
                         encode_body(delivery.payload), delivery.attempts,
                         delivery.first_attempt_at or utcnow(), delivery.request_id))
    db.session.rollback()  # read-only: end the transaction before calling receivers
    return jobs


def _post(job: _Job, worker_id: str) -> _Result:
    attempted_at = utcnow()
    started = time.monotonic()
    if job.secret is None:
        return _Result(attempted_at, 0, error="无法解密签名密钥，请管理员重新设置密钥")
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "X-AIIC-Event": job.event_type,
        "X-AIIC-Delivery": str(job.delivery_id),
        "X-AIIC-Attempt": str(job.attempt),
        "X-AIIC-Timestamp": str(timestamp),
        "X-AIIC-Signature": sign(job.secret, timestamp, job.body),
    }
    if job.request_id:  # the receiver can quote the request that caused the event
        headers["X-Request-Id"] = job.request_id
    timeout = float(_cfg("WEBHOOK_TIMEOUT"))
    # SSRF guard (app.services.webhooks.urlguard): the host is resolved again now, and
    # the connection refuses a non-public peer address.
    guarded = not urlguard.private_hosts_allowed()
    if guarded:
        try:
            urlguard.check_url_host(job.url)
        except urlguard.HostRefused as exc:
            log.warning("webhook delivery %s to endpoint %s refused: %s", job.delivery_id,
                        job.endpoint_id, exc.code)
            return _Result(attempted_at, _elapsed_ms(started), error=f"已拒绝发送：{exc.message}")
    try:
        # No redirects: a 3xx is not an acknowledgement, and must not move a signed body
        # to a host nobody configured.
        with _session(guarded) as http, http.post(
                job.url, data=job.body, headers=headers, timeout=timeout,
                allow_redirects=False, stream=True) as resp:
            # Only the start of the body is read (iter_content maps read errors to requests').
            raw = next(resp.iter_content(_READ_LIMIT), b"")
            return _Result(attempted_at, _elapsed_ms(started), status_code=resp.status_code,
                           excerpt=raw.decode("utf-8", "replace")[:EXCERPT_CHARS] or None,
                           error=None if 200 <= resp.status_code < 300
                           else f"HTTP {resp.status_code}",
                           retry_after=_retry_after(resp.headers.get("Retry-After")))
    except requests.Timeout:
        error = f"请求超时（{timeout:g}秒）"
    except requests.ConnectionError as exc:
        error = f"无法连接：{_short(exc)}"
    except Exception as exc:  # invalid URL, TLS, reading the body...: still one attempt
        error = f"{type(exc).__name__}: {_short(exc)}"
    log.info("webhook delivery %s to endpoint %s failed: %s", job.delivery_id,
             job.endpoint_id, error)
    return _Result(attempted_at, _elapsed_ms(started), error=error)


def _session(guarded: bool) -> requests.Session:
    """A session for one POST (as requests.post makes), its connections guarded."""
    session = requests.Session()
    if guarded:
        adapter = urlguard.GuardedAdapter()
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    return session


def _record(job: _Job, result: _Result, worker_id: str) -> bool:
    """Log the attempt and move the delivery on, in one transaction. Returns True when the
    endpoint was disabled and admins were queued a message."""
    now = utcnow()
    deadline = job.first_attempt_at + timedelta(hours=float(_cfg("WEBHOOK_RETRY_WINDOW_HOURS")))
    values: dict = {"lease_until": None, "last_status_code": result.status_code}
    final_failure = False
    if result.ok:
        values.update(status=DeliveryStatus.DELIVERED, delivered_at=now, last_error=None)
    elif now >= deadline:
        final_failure = True
        values.update(status=DeliveryStatus.FAILED,
                      last_error=f"24小时内多次重试仍失败：{result.error}"[:2000])
    else:
        values.update(status=DeliveryStatus.RETRYING, last_error=result.error,
                      next_attempt_at=min(now + _backoff(job.attempt, result.retry_after),
                                          deadline))
    owned = db.session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == job.delivery_id, WebhookDelivery.claimed_by == worker_id,
               WebhookDelivery.status == DeliveryStatus.SENDING)
        .values(**values).execution_options(synchronize_session=False)).rowcount == 1
    db.session.add(WebhookAttempt(
        delivery_id=job.delivery_id, attempted_at=result.attempted_at,
        duration_ms=result.duration_ms, status_code=result.status_code,
        error=result.error, response_excerpt=result.excerpt, worker_id=worker_id))
    disabled = False
    if not owned:
        # Our lease ran out and another worker took the delivery over: it decides.
        log.warning("webhook delivery %s: lease lost by %s", job.delivery_id, worker_id)
    elif result.ok:
        db.session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == job.endpoint_id)
                           .values(consecutive_failures=0, last_success_at=now)
                           .execution_options(synchronize_session=False))
    elif final_failure:
        disabled = _count_final_failure(job, now)
    else:
        db.session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == job.endpoint_id)
                           .values(last_failure_at=now)
                           .execution_options(synchronize_session=False))
    db.session.commit()
    status = getattr(values.get("status"), "value", None) if owned else "lease_lost"
    log.info("webhook delivery %s to endpoint %s %s (request %s, worker %s)", job.delivery_id,
             job.endpoint_id, status, job.request_id or "-", worker_id,
             extra=log_fields(request_id=job.request_id, worker_id=worker_id,
                              delivery_id=job.delivery_id, status=status))
    return disabled


def _count_final_failure(job: _Job, now: datetime) -> bool:
    # Increment in SQL: workers finishing deliveries of one endpoint at once lose no count.
    db.session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == job.endpoint_id)
                       .values(consecutive_failures=WebhookEndpoint.consecutive_failures + 1,
                               last_failure_at=now)
                       .execution_options(synchronize_session=False))
    failures = db.session.scalar(select(WebhookEndpoint.consecutive_failures)
                                 .where(WebhookEndpoint.id == job.endpoint_id))
    limit = int(_cfg("WEBHOOK_DISABLE_AFTER"))
    if failures < limit:
        return False
    reason = f"连续{failures}个事件在24小时内重试后仍投递失败，已自动停用"
    took = db.session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == job.endpoint_id, WebhookEndpoint.active.is_(True))
        .values(active=False, disabled_at=now, disabled_reason=reason)
        .execution_options(synchronize_session=False)).rowcount == 1
    if not took:
        return False  # already disabled (by an admin or another worker)
    endpoint = db.session.get(WebhookEndpoint, job.endpoint_id, populate_existing=True)
    audit.record(actor_type="system", actor_id=None, action="webhook.disabled",
                 object_type="webhook_endpoint", object_id=endpoint.id,
                 data={"reason": reason, "automatic": True, "consecutive_failures": failures,
                       "last_delivery_id": job.delivery_id, "url": endpoint.url,
                       "rule": "webhook_auto_disable",
                       "before": {"active": True}, "after": {"active": False}})
    log.warning("webhook endpoint %s (%s) disabled after %s failed deliveries",
                endpoint.id, endpoint.url, failures)
    return notify_admins_webhook_disabled(endpoint) > 0


def notify_admins_webhook_disabled(endpoint: WebhookEndpoint) -> int:
    """Queue a message to every active admin (inside the caller's transaction)."""
    admins = db.session.scalars(select(HrUser.id).where(
        HrUser.role == Role.ADMIN, HrUser.active.is_(True)).order_by(HrUser.id)).all()
    disabled_at = endpoint.disabled_at or utcnow()
    event = f"webhook.disabled:{endpoint.id}:{int(disabled_at.timestamp())}"
    context = {
        "endpoint_id": endpoint.id,
        "endpoint_name": endpoint.name,
        "endpoint_url": endpoint.url,
        "reason": endpoint.disabled_reason or "",
        "disabled_at": iso(disabled_at),
        "consecutive_failures": endpoint.consecutive_failures,
    }
    for admin_id in admins:
        outbox.enqueue(event=event, kind=STAFF_KIND, recipient_type="hr_user",
                       recipient_id=admin_id, interview=None, context=context)
    return len(admins)


# --- helpers -------------------------------------------------------------------------

def _backoff(attempt: int, retry_after: int | None) -> timedelta:
    base = float(_cfg("WEBHOOK_BACKOFF_BASE_SECONDS"))
    cap = float(_cfg("WEBHOOK_BACKOFF_CAP_SECONDS"))
    delay = min(base * 2 ** max(attempt - 1, 0), cap)
    # Jitter spreads the retries of many deliveries that failed in the same outage.
    delay *= random.uniform(0.75, 1.0)
    if retry_after:
        delay = max(delay, min(retry_after, cap))
    return timedelta(seconds=delay)


def _retry_after(value: str | None) -> int | None:
    if value and value.strip().isdigit():
        return int(value.strip())
    return None


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _short(exc: Exception) -> str:
    return str(exc)[:300]

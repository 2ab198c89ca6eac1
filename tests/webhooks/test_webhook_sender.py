"""Sending deliveries to a real HTTP receiver: signature, retries, giving up, disabling."""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta

from sqlalchemy import select
from webhook_helpers import attempts, deliveries, endpoint, run, time_passes

from app.core.timeutil import utcnow
from app.extensions import db
from app.models import AuditEntry, HrUser, OutboxMessage, Role
from app.models.webhook import DeliveryStatus
from app.services.users.actor import Actor
from app.services.webhooks import endpoints
from app.services.webhooks.sender import encode_body, verify_signature
from tests.factories import WEBHOOK_SECRET as SECRET


def test_delivery_is_signed_and_verifiable_by_the_receiver(app, receiver, make_endpoint,
                                                           enqueue):
    make_endpoint(receiver.url, secret=SECRET)
    enqueue(event_id="interview.cancelled:1")
    assert run(app) == 1

    [req] = receiver.requests
    [row] = deliveries(app)
    assert req.path == "/hooks/aiic"
    assert req.headers["Content-Type"] == "application/json; charset=utf-8"
    assert req.headers["X-Aiic-Event"] == "interview.cancelled"
    assert req.headers["X-Aiic-Delivery"] == str(row.id)
    timestamp = req.headers["X-Aiic-Timestamp"]
    signature = req.headers["X-Aiic-Signature"]
    assert abs(int(timestamp) - time.time()) < 60

    # The body is the stored payload, UTF-8 JSON with Chinese readable.
    assert json.loads(req.body.decode("utf-8")) == row.payload
    assert "张三".encode() in req.body
    assert req.body == encode_body(row.payload)

    # The receiver's check, and an independent one.
    assert verify_signature(SECRET, timestamp, req.body, signature)
    independent = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + req.body,
                           hashlib.sha256).hexdigest()
    assert signature == "sha256=" + independent
    assert not verify_signature("another-secret-0123456789", timestamp, req.body, signature)
    assert not verify_signature(SECRET, timestamp, req.body.replace(b"1", b"2"), signature)
    assert not verify_signature(SECRET, int(timestamp) + 1, req.body, signature)
    assert not verify_signature(SECRET, timestamp, req.body, signature,
                                now=int(timestamp) + 301)  # a replay five minutes later

    assert row.status == DeliveryStatus.DELIVERED and row.attempts == 1
    assert row.delivered_at is not None and row.last_status_code == 200
    [attempt] = attempts(app, row.id)
    assert attempt.status_code == 200 and attempt.error is None
    assert attempt.response_excerpt == "ok" and attempt.duration_ms >= 0
    assert endpoint(app, row.endpoint_id).last_success_at is not None
    assert run(app) == 0  # delivered once, never again


def test_server_error_schedules_a_retry_and_logs_the_attempt(app, receiver, make_endpoint,
                                                             enqueue):
    make_endpoint(receiver.url)
    enqueue()
    receiver.answer(500)
    before = utcnow()
    assert run(app) == 1

    [row] = deliveries(app)
    assert row.status == DeliveryStatus.RETRYING and row.attempts == 1
    assert row.last_status_code == 500 and row.last_error == "HTTP 500"
    assert row.first_attempt_at >= before - timedelta(seconds=1)
    # 30 s base delay with jitter (75-100 %)
    assert before + timedelta(seconds=20) < row.next_attempt_at < utcnow() + timedelta(seconds=31)
    assert row.lease_until is None
    [attempt] = attempts(app, row.id)
    assert attempt.status_code == 500 and attempt.error == "HTTP 500"
    assert attempt.response_excerpt.startswith("服务器错误 500")
    assert len(attempt.response_excerpt) == 500
    assert run(app) == 0  # not due yet


def test_timeout_and_refused_connection_are_failed_attempts(app, receiver, make_endpoint,
                                                            enqueue):
    app.config["WEBHOOK_TIMEOUT"] = 0.3
    receiver.sleep_seconds = 1.5
    make_endpoint(receiver.url)
    make_endpoint("http://127.0.0.1:9/nothing-listens-here", name="gone")
    enqueue()
    receiver.answer("timeout")
    assert run(app) == 2
    rows = deliveries(app)
    assert [r.status for r in rows] == [DeliveryStatus.RETRYING, DeliveryStatus.RETRYING]
    errors = [attempts(app, r.id)[0].error for r in rows]
    assert errors[0] == "请求超时（0.3秒）"
    assert errors[1].startswith("无法连接")
    assert all(a.status_code is None for r in rows for a in attempts(app, r.id))


def test_redirect_is_not_followed_and_counts_as_failure(app, receiver, make_endpoint, enqueue):
    make_endpoint(receiver.url)
    enqueue()
    receiver.answer((302, {"Location": "http://evil.example.com/"}))
    run(app)
    [row] = deliveries(app)
    assert row.status == DeliveryStatus.RETRYING and row.last_status_code == 302
    assert len(receiver.requests) == 1


def test_retry_after_is_honoured(app, receiver, make_endpoint, enqueue):
    make_endpoint(receiver.url)
    enqueue()
    receiver.answer((503, {"Retry-After": "600"}))
    run(app)
    [row] = deliveries(app)
    assert row.next_attempt_at > utcnow() + timedelta(seconds=590)


def test_success_after_retries(app, receiver, make_endpoint, enqueue):
    endpoint_id = make_endpoint(receiver.url, secret=SECRET)
    enqueue()
    receiver.answer(500, 502, 200)
    delays = []
    for _ in range(3):
        time_passes(app)
        assert run(app) == 1
        row = deliveries(app)[0]
        if row.status == DeliveryStatus.RETRYING:
            delays.append((row.next_attempt_at - utcnow()).total_seconds())

    [row] = deliveries(app)
    assert row.status == DeliveryStatus.DELIVERED and row.attempts == 3
    assert row.last_error is None and row.last_status_code == 200
    assert [a.status_code for a in attempts(app, row.id)] == [500, 502, 200]
    assert 20 < delays[0] <= 30 and 40 < delays[1] <= 60  # exponential backoff
    # Every attempt is signed afresh and carries the same delivery id and body.
    assert len({r.headers["X-Aiic-Delivery"] for r in receiver.requests}) == 1
    assert len({r.body for r in receiver.requests}) == 1
    assert [r.headers["X-Aiic-Attempt"] for r in receiver.requests] == ["1", "2", "3"]
    assert all(verify_signature(SECRET, r.headers["X-Aiic-Timestamp"], r.body,
                                r.headers["X-Aiic-Signature"]) for r in receiver.requests)
    assert endpoint(app, endpoint_id).consecutive_failures == 0


def test_gives_up_24_hours_after_the_first_attempt(app, receiver, make_endpoint, enqueue):
    make_endpoint(receiver.url)
    enqueue()
    receiver.default = 500
    run(app)
    # Still inside the window: the next retry is never later than its end.
    time_passes(app, first_attempt_hours_ago=23.999)
    run(app)
    [row] = deliveries(app)
    assert row.status == DeliveryStatus.RETRYING
    assert row.next_attempt_at <= row.first_attempt_at + timedelta(hours=24)

    time_passes(app, first_attempt_hours_ago=24.01)
    run(app)
    [row] = deliveries(app)
    assert row.status == DeliveryStatus.FAILED and row.attempts == 3
    assert row.last_error.startswith("24小时内多次重试仍失败") and "HTTP 500" in row.last_error
    assert len(attempts(app, row.id)) == 3
    assert endpoint(app, row.endpoint_id).consecutive_failures == 1
    assert endpoint(app, row.endpoint_id).active  # one failed event does not disable
    time_passes(app)
    assert run(app) == 0


def test_endpoint_disabled_after_consecutive_failed_deliveries(app, receiver, make_endpoint,
                                                               enqueue):
    app.config["WEBHOOK_DISABLE_AFTER"] = 3
    broken_id = make_endpoint(receiver.url)
    healthy_id = make_endpoint(receiver.url + "/healthy", name="ERP")
    receiver.by_path["/hooks/aiic/healthy"] = 200
    receiver.default = 500
    for i in range(4):
        enqueue(event_id=f"interview.cancelled:{i}")
    assert run(app) == 8

    broken = [r.id for r in deliveries(app) if r.endpoint_id == broken_id]
    # Three events exhaust their 24 hours; the fourth is still inside its window.
    time_passes(app, first_attempt_hours_ago=25, ids=broken[:3])
    assert run(app) == 3

    rows = {r.id: r for r in deliveries(app)}
    assert [rows[i].status for i in broken] == [DeliveryStatus.FAILED] * 3 + [
        DeliveryStatus.RETRYING]
    ep = endpoint(app, broken_id)
    assert not ep.active and ep.consecutive_failures == 3
    assert ep.disabled_at is not None and "连续3个事件" in ep.disabled_reason
    healthy = endpoint(app, healthy_id)  # another endpoint's failures are not its own
    assert healthy.active and healthy.consecutive_failures == 0
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "webhook.disabled")).one()
        assert entry.actor_type == "system" and entry.object_id == broken_id
        assert entry.data["automatic"] is True and entry.data["consecutive_failures"] == 3
        # The message kind does not exist yet: no outbox rows until the catalogue has it.
        assert db.session.scalars(select(OutboxMessage)).all() == []

    # The disabled endpoint's waiting delivery is not tried, however due it is.
    time_passes(app, ids=broken[3:])
    sent_before = len(receiver.requests)
    assert run(app) == 0 and len(receiver.requests) == sent_before

    # The admin fixes the receiver and enables it: the waiting event goes out.
    with app.app_context():
        endpoints.enable_endpoint(broken_id, Actor.system("test"))
    receiver.default = 200
    assert run(app) == 1
    rows = {r.id: r for r in deliveries(app)}
    assert rows[broken[3]].status == DeliveryStatus.DELIVERED
    assert endpoint(app, broken_id).consecutive_failures == 0


def test_success_resets_the_failure_count(app, receiver, make_endpoint, enqueue):
    app.config["WEBHOOK_DISABLE_AFTER"] = 2
    endpoint_id = make_endpoint(receiver.url)
    receiver.default = 500
    enqueue(event_id="a")
    run(app)
    time_passes(app, first_attempt_hours_ago=25)
    run(app)
    assert endpoint(app, endpoint_id).consecutive_failures == 1
    receiver.default = 200
    enqueue(event_id="b")
    run(app)
    ep = endpoint(app, endpoint_id)
    assert ep.consecutive_failures == 0 and ep.active


def test_admins_are_messaged_once_the_message_kind_exists(app, demo, monkeypatch, receiver,
                                                          make_endpoint, enqueue):
    from templates_msg import MESSAGE_KINDS

    monkeypatch.setitem(MESSAGE_KINDS, "staff_webhook_disabled",
                        MESSAGE_KINDS["staff_candidate_cancelled"])
    app.config["WEBHOOK_DISABLE_AFTER"] = 1
    endpoint_id = make_endpoint(receiver.url)
    with app.app_context():
        extra = HrUser(username="admin2", display_name="备用管理员", role=Role.ADMIN,
                       password_hash="x", active=True)
        retired = HrUser(username="admin3", display_name="离职管理员", role=Role.ADMIN,
                         password_hash="x", active=False)
        db.session.add_all([extra, retired])
        db.session.commit()
        admin_ids = sorted([demo["hr_users"]["admin"]["id"], extra.id])
    receiver.default = 500
    enqueue()
    run(app)
    time_passes(app, first_attempt_hours_ago=25)
    run(app)

    assert not endpoint(app, endpoint_id).active
    with app.app_context():
        rows = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.recipient_id)
                                  ).all()
        assert [r.recipient_id for r in rows] == admin_ids
        assert {r.kind for r in rows} == {"staff_webhook_disabled"}
        assert {r.recipient_type for r in rows} == {"hr_user"}
        assert rows[0].context["endpoint_name"] == "ATS"
        assert rows[0].context["endpoint_url"] == receiver.url
        assert "连续1个事件" in rows[0].context["reason"]


def test_expired_lease_is_taken_over(app, receiver, make_endpoint, enqueue):
    """A worker that died mid-send leaves `sending`; after the lease another worker sends."""
    from sqlalchemy import update

    from app.models.webhook import WebhookDelivery

    make_endpoint(receiver.url)
    enqueue()
    with app.app_context():
        db.session.execute(update(WebhookDelivery).values(
            status=DeliveryStatus.SENDING, claimed_by="w-dead", attempts=1,
            first_attempt_at=utcnow(), lease_until=utcnow() + timedelta(minutes=5)))
        db.session.commit()
    assert run(app, "w-alive") == 0  # lease still running
    with app.app_context():
        db.session.execute(update(WebhookDelivery).values(
            lease_until=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert run(app, "w-alive") == 1
    [row] = deliveries(app)
    assert row.status == DeliveryStatus.DELIVERED and row.claimed_by == "w-alive"
    assert row.attempts == 2
    [attempt] = attempts(app, row.id)
    assert attempt.worker_id == "w-alive"

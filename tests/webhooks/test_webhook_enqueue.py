"""Queueing webhook deliveries, the payload, and managing endpoints."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from webhook_helpers import deliveries

from app.core.timeutil import SHANGHAI, utcnow
from app.extensions import db
from app.models import AuditEntry, CancelReason, HrUser, Interview
from app.models.webhook import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from app.services import webhooks
from app.services.users.actor import Actor
from app.services.webhooks import endpoints
from tests import factories

SYSTEM = Actor.system("test")


def test_enqueue_only_for_active_endpoints_subscribed_to_the_event(app, make_endpoint, enqueue):
    cancelled = make_endpoint("https://ats.example.com/a", events=["interview.cancelled"])
    both = make_endpoint("https://erp.example.com/b",
                         events=["interview.cancelled", "interview.rescheduled"])
    make_endpoint("https://oa.example.com/c", events=["interview.rescheduled"])
    paused = make_endpoint("https://old.example.com/d", events=["interview.cancelled"])
    with app.app_context():
        endpoints.disable_endpoint(paused, SYSTEM)

    assert enqueue("interview.cancelled", "interview.cancelled:7") == 2
    rows = deliveries(app)
    assert sorted(r.endpoint_id for r in rows) == sorted([cancelled, both])
    for row in rows:
        assert row.status == DeliveryStatus.QUEUED and row.attempts == 0
        assert row.event_type == "interview.cancelled"
        assert row.payload["event"] == "interview.cancelled"
        assert row.payload["event_id"] == "interview.cancelled:7"
        assert row.next_attempt_at <= utcnow()

    assert enqueue("interview.cancel_rejected", "interview.cancel_rejected:7") == 0
    assert len(deliveries(app)) == 2


def test_enqueue_stays_in_the_callers_transaction(app, make_endpoint):
    make_endpoint("https://ats.example.com/a")
    with app.app_context():
        assert webhooks.enqueue_event("interview.cancelled", "ev-1", {"x": 1}) == 1
        db.session.rollback()  # the caller's change failed: nothing may be sent
    assert deliveries(app) == []


def test_unknown_event_type_is_a_programming_error(app):
    with app.app_context(), pytest.raises(ValueError):
        webhooks.enqueue_event("interview.exploded", "ev-1", {})


def test_same_event_is_never_queued_twice_for_one_endpoint(app, make_endpoint, enqueue):
    first = make_endpoint("https://ats.example.com/a")
    assert enqueue(event_id="interview.cancelled:9") == 1
    # A retried request / repeated service call queues nothing more...
    assert enqueue(event_id="interview.cancelled:9") == 0
    # ...but an endpoint added later still gets the event once.
    second = make_endpoint("https://erp.example.com/b")
    assert enqueue(event_id="interview.cancelled:9") == 1
    assert sorted(r.endpoint_id for r in deliveries(app)) == sorted([first, second])

    # The database itself refuses a second (endpoint, event) row.
    with app.app_context():
        db.session.add(WebhookDelivery(endpoint_id=first, event_id="interview.cancelled:9",
                                       event_type="interview.cancelled", payload={},
                                       next_attempt_at=utcnow()))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_interview_payload_shape(app):
    factories.interview(app, "AI-2026-11-22-001", "张三")
    factories.interview(app, "AI-2026-11-22-002", "李四")
    factories.cancel_reason(app, "time_conflict")
    with app.app_context():
        interview = db.session.scalars(select(Interview).order_by(Interview.id)).first()
        interview.candidate.external_ref = "ATS-00042"
        reason = db.session.scalars(select(CancelReason).order_by(CancelReason.id)).first()
        at = utcnow()
        payload = webhooks.interview_payload(interview, reason=reason, actor_type="candidate",
                                             actor_id=interview.candidate_id, at=at)
        expected_interview = {
            "id": interview.public_id, "number": interview.number,
            "status": interview.status.value,
            "scheduled_at": interview.scheduled_at.astimezone(SHANGHAI)
            .isoformat(timespec="seconds"),
            "position": {"title": interview.position.title,
                         "department": interview.position.department},
        }
        phone = interview.candidate.phone
        name = interview.candidate.name
        candidate_id = interview.candidate_id
        anonymous = db.session.scalars(select(Interview).order_by(Interview.id.desc())).first()
        plain = webhooks.interview_payload(anonymous, actor_type="hr", actor_id=3, at=at)
        anonymous_ref = f"candidate-{anonymous.candidate_id}"
        reason_code, reason_label = reason.code, reason.label
        db.session.rollback()

    assert set(payload) == {"occurred_at", "interview", "candidate", "reason", "actor"}
    assert payload["occurred_at"].endswith("+08:00")
    assert payload["interview"] == expected_interview
    assert payload["candidate"] == {"ref": "ATS-00042", "name": name}
    assert payload["reason"] == {"code": reason_code, "label": reason_label}
    assert payload["actor"] == {"type": "candidate", "id": candidate_id}
    assert phone and phone not in json.dumps(payload, ensure_ascii=False)
    assert plain["candidate"]["ref"] == anonymous_ref
    assert plain["reason"] is None and plain["actor"] == {"type": "hr", "id": 3}

    # enqueue_event puts event and event_id first, around the same facts.
    with app.app_context():
        endpoints.create_endpoint(SYSTEM, name="ATS", url="https://ats.example.com/h",
                                  events=["interview.cancelled"])
        webhooks.enqueue_event("interview.cancelled", "interview.cancelled:1", payload)
        db.session.commit()
        row = db.session.scalars(select(WebhookDelivery)).one()
        assert list(row.payload)[:2] == ["event", "event_id"]
        assert {k: v for k, v in row.payload.items() if k not in ("event", "event_id")} \
            == payload


def test_create_endpoint_generates_and_encrypts_the_secret(app, demo):
    admin_id = demo["hr_users"]["admin"]["id"]
    with app.app_context():
        admin = Actor.hr(db.session.get(HrUser, admin_id))
        created = endpoints.create_endpoint(
            admin, name=" ATS 同步 ", url="https://ats.example.com/hooks",
            events=["interview.rescheduled", "interview.cancelled", "interview.cancelled"])
        endpoint_id = created.endpoint.id
    with app.app_context():
        row = db.session.get(WebhookEndpoint, endpoint_id)
        assert row.name == "ATS 同步" and row.active and row.consecutive_failures == 0
        assert row.events == ["interview.cancelled", "interview.rescheduled"]
        assert row.secret == created.secret
        assert row.secret.startswith("whsec_") and len(row.secret) >= 32
        assert row.secret not in row.secret_encrypted
        assert row.created_by == admin_id
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "webhook.created")).one()
        assert entry.actor_id == admin_id and entry.object_id == endpoint_id
        assert row.secret not in json.dumps(entry.data)


@pytest.mark.parametrize("field,value,code", [
    ("url", "ftp://ats.example.com/x", "invalid_webhook_url"),
    ("url", "ats.example.com/x", "invalid_webhook_url"),
    ("url", "https:///nohost", "invalid_webhook_url"),
    ("url", "https://ats.example.com:99999/x", "invalid_webhook_url"),
    ("events", [], "invalid_webhook_events"),
    ("events", ["interview.cancelled", "interview.deleted"], "invalid_webhook_events"),
    ("name", "  ", "invalid_webhook_name"),
])
def test_create_endpoint_validates(app, field, value, code):
    from app.core.errors import ValidationFailed

    args = {"name": "ATS", "url": "https://ats.example.com/h",
            "events": ["interview.cancelled"]}
    args[field] = value
    with app.app_context():
        with pytest.raises(ValidationFailed) as info:
            endpoints.create_endpoint(SYSTEM, **args)
        assert info.value.code == code
        assert db.session.scalars(select(WebhookEndpoint)).all() == []


def test_update_disable_enable_are_audited(app, make_endpoint):
    endpoint_id = make_endpoint("https://ats.example.com/h", secret="first-secret-0123456789")
    with app.app_context():
        assert endpoints.update_endpoint(endpoint_id, SYSTEM, name="ATS",
                                         url="https://ats2.example.com/h",
                                         events=["interview.cancelled", "notification.failed"])
        rotated = endpoints.rotate_secret(endpoint_id, SYSTEM)
        row = db.session.get(WebhookEndpoint, endpoint_id)
        assert row.url == "https://ats2.example.com/h"
        assert row.events == ["interview.cancelled", "notification.failed"]
        assert row.secret == rotated.secret != "first-secret-0123456789"
        assert endpoints.disable_endpoint(endpoint_id, SYSTEM)
        assert not endpoints.disable_endpoint(endpoint_id, SYSTEM)  # no second audit entry
        row = db.session.get(WebhookEndpoint, endpoint_id)
        assert not row.active and row.disabled_reason == "管理员手动停用"
        endpoints.enable_endpoint(endpoint_id, SYSTEM)
        row = db.session.get(WebhookEndpoint, endpoint_id)
        assert row.active and row.disabled_at is None
        actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions == ["webhook.created", "webhook.updated", "webhook.secret_rotated",
                           "webhook.disabled", "webhook.enabled"]
        rotation = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "webhook.secret_rotated")).one()
        assert rotation.data["secret_rotated"] is True
        assert row.secret not in json.dumps(rotation.data)
        with pytest.raises(endpoints.WebhookEndpointNotFound):
            endpoints.enable_endpoint(endpoint_id + 100, SYSTEM)

"""Settings: webhook endpoints (/console/settings/webhooks, permission "settings"), through
the real forms (CSRF on) and a real HTTP receiver: register (the secret shown once, never
again: not on later pages, not in the audit log), edit, rotate the secret, a test event
through the normal sender with a valid signature, the delivery log, re-enabling (failed
events sent again only when asked), https in production and the SSRF guard at
registration and at send time.
"""
from __future__ import annotations

import json
import re
import threading
from datetime import timedelta
from functools import partial

import pytest
from sqlalchemy import select, update
from werkzeug.serving import make_server

from app.core.timeutil import utcnow
from app.extensions import db
from app.models import AuditEntry, Role
from app.models.webhook import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from app.services.users.actor import Actor
from app.services.webhooks import endpoints, urlguard
from app.services.webhooks.sender import dispatch_due, verify_signature
from tests import factories
from tests.webhooks.conftest import Receiver

SECRET_RE = re.compile(r'<code id="shown-once">([^<]+)</code>')
BASE = "/console/settings/webhooks"


@pytest.fixture
def receiver():
    rec = Receiver()
    server = make_server("127.0.0.1", 0, rec.wsgi, threaded=True)
    rec.url = f"http://127.0.0.1:{server.port}/hooks/aiic"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield rec
    server.shutdown()
    server.server_close()


@pytest.fixture
def make_endpoint(app):
    """make_endpoint(url, events=..., secret=..., name="ATS") -> the endpoint's id."""
    return partial(factories.webhook_endpoint, app)


@pytest.fixture
def admin(app, make_user, login):
    make_user(username="guanli", role=Role.ADMIN, display_name="管理员", departments=())
    client = app.test_client()
    assert login(client, "guanli").status_code == 302
    return client


def _text(response) -> str:
    return response.get_data(as_text=True)


def _post(client, path, data=None, token_page=BASE):
    token = factories.csrf_token(client, token_page)
    return client.post(path, data={"csrf_token": token, **(data or {})})


def _send(app) -> int:
    with app.app_context():
        try:
            return dispatch_due("w-console-test", 20)
        finally:
            db.session.remove()


def _create(admin, url, name="ATS", events=("interview.cancelled",)):
    response = _post(admin, f"{BASE}/new", {"name": name, "url": url, "events": list(events)},
                     token_page=f"{BASE}/new")
    assert response.status_code == 200, _text(response)
    match = SECRET_RE.search(_text(response))
    assert match, _text(response)
    return match.group(1)


def _endpoint(app, name="ATS") -> WebhookEndpoint:
    with app.app_context():
        row = db.session.scalars(select(WebhookEndpoint).where(
            WebhookEndpoint.name == name)).one()
        db.session.expunge(row)
        return row


def _audit(app, action=None) -> list[AuditEntry]:
    with app.app_context():
        stmt = select(AuditEntry).where(AuditEntry.object_type == "webhook_endpoint")
        if action:
            stmt = stmt.where(AuditEntry.action == action)
        rows = db.session.scalars(stmt.order_by(AuditEntry.id)).all()
        db.session.expunge_all()
        return list(rows)


def _pages(admin, endpoint_id) -> str:
    return "".join(_text(admin.get(p)) for p in (
        BASE, f"{BASE}/{endpoint_id}", f"{BASE}/{endpoint_id}/deliveries",
        "/console/settings"))


# Registering and the secret ---------------------------------------------------------------

def test_a_new_endpoint_shows_its_secret_once_and_never_again(app, admin, receiver):
    page = _text(admin.get(f"{BASE}/new"))
    for event, label in endpoints.EVENT_CHOICES:  # every event the code emits is offered
        assert f'value="{event}"' in page and label in page
    secret = _create(admin, receiver.url, events=("interview.cancelled",
                                                  "interview.rescheduled"))
    row = _endpoint(app)
    with app.app_context():
        stored = db.session.get(WebhookEndpoint, row.id)
        assert stored.secret == secret and secret not in stored.secret_encrypted
    assert row.events == ["interview.cancelled", "interview.rescheduled"] and row.active
    assert secret not in _pages(admin, row.id)
    [entry] = _audit(app, "webhook.created")
    assert entry.data == {"before": None, "after": {
        "name": "ATS", "url": receiver.url,
        "events": ["interview.cancelled", "interview.rescheduled"]}}
    assert entry.ip == "127.0.0.1"


def test_rotating_the_secret_shows_the_new_one_once(app, admin, receiver):
    first = _create(admin, receiver.url)
    endpoint_id = _endpoint(app).id
    response = _post(admin, f"{BASE}/{endpoint_id}/rotate-secret",
                     token_page=f"{BASE}/{endpoint_id}")
    second = SECRET_RE.search(_text(response)).group(1)
    assert second != first
    with app.app_context():
        assert db.session.get(WebhookEndpoint, endpoint_id).secret == second
    pages = _pages(admin, endpoint_id)
    assert first not in pages and second not in pages
    audit_text = json.dumps([e.data for e in _audit(app)], ensure_ascii=False)
    assert first not in audit_text and second not in audit_text
    assert [e.data for e in _audit(app, "webhook.secret_rotated")] == [{"secret_rotated": True}]


@pytest.mark.parametrize("fields,message,code", [
    ({"url": "ftp://ats.example.com/x"}, "请填写以 http:// 或 https:// 开头的有效地址",
     "invalid_webhook_url"),
    ({"events": []}, "请至少选择一个有效的事件", "invalid_webhook_events"),
    ({"events": ["interview.deleted"]}, "请至少选择一个有效的事件", "invalid_webhook_events"),
    ({"name": " "}, "请填写名称", "invalid_webhook_name"),
])
def test_a_refused_endpoint_says_why_and_creates_nothing(app, admin, fields, message, code):
    data = {"name": "ATS", "url": "https://127.0.0.1/hooks", "events": ["interview.cancelled"],
            **fields}
    response = _post(admin, f"{BASE}/new", data, token_page=f"{BASE}/new")
    assert response.status_code == 200
    assert message in _text(response) and f'data-code="{code}"' in _text(response)
    with app.app_context():
        assert db.session.scalars(select(WebhookEndpoint)).all() == []
    assert _audit(app) == []


def test_editing_url_and_events_is_audited_before_and_after(app, admin, receiver):
    _create(admin, receiver.url)
    endpoint_id = _endpoint(app).id
    page = f"{BASE}/{endpoint_id}"
    new_url = receiver.url + "/v2"
    response = _post(admin, page, {"name": "ATS", "url": new_url,
                                   "events": ["interview.cancelled", "notification.failed"]},
                     token_page=page)
    assert response.status_code == 302
    row = _endpoint(app)
    assert row.url == new_url and row.events == ["interview.cancelled", "notification.failed"]
    [entry] = _audit(app, "webhook.updated")
    assert entry.data == {
        "before": {"url": receiver.url, "events": ["interview.cancelled"]},
        "after": {"url": new_url, "events": ["interview.cancelled", "notification.failed"]}}
    _post(admin, page, {"name": "ATS", "url": new_url,
                        "events": ["interview.cancelled", "notification.failed"]},
          token_page=page)
    assert "没有需要保存的修改" in _text(admin.get(page))
    assert len(_audit(app, "webhook.updated")) == 1


# The test event ------------------------------------------------------------------------------

def test_a_test_event_reaches_the_receiver_signed_and_shows_its_result(app, admin, receiver):
    secret = _create(admin, receiver.url)
    endpoint_id = _endpoint(app).id
    response = _post(admin, f"{BASE}/{endpoint_id}/test", token_page=f"{BASE}/{endpoint_id}")
    assert response.status_code == 302
    log_page = response.headers["Location"]
    assert log_page.startswith(f"{BASE}/{endpoint_id}/deliveries?test=")
    waiting = admin.get(log_page)
    assert waiting.headers.get("Refresh") == "2" and "排队中" in _text(waiting)

    assert _send(app) == 1  # the normal sender, as the worker runs it
    [request] = receiver.requests
    assert request.headers["X-Aiic-Event"] == "ping"
    assert verify_signature(secret, request.headers["X-Aiic-Timestamp"], request.body,
                            request.headers["X-Aiic-Signature"])
    body = json.loads(request.body)
    assert body["event"] == "ping" and body["endpoint"] == {"id": endpoint_id, "name": "ATS"}

    done = admin.get(log_page)
    page = _text(done)
    assert "Refresh" not in done.headers
    assert "已送达" in page and "接收方返回 HTTP 200，配置正确" in page and "测试事件" in page
    assert [e.action for e in _audit(app)] == ["webhook.created", "webhook.test_sent"]


def test_a_test_event_to_a_failing_receiver_shows_the_error(app, admin, receiver):
    _create(admin, receiver.url)
    endpoint_id = _endpoint(app).id
    receiver.answer(500)
    response = _post(admin, f"{BASE}/{endpoint_id}/test", token_page=f"{BASE}/{endpoint_id}")
    _send(app)
    page = _text(admin.get(response.headers["Location"]))
    assert "重试中" in page and "HTTP 500" in page
    assert "每次尝试（1）" in page


# The delivery log ---------------------------------------------------------------------------

def test_the_delivery_log_is_paginated_newest_first_with_every_attempt(app, admin, receiver,
                                                                       make_endpoint):
    endpoint_id = make_endpoint(receiver.url)
    for i in range(25):
        factories.webhook_event(app, event_id=f"interview.cancelled:{i}")
    receiver.answer(503)
    _send(app)
    with app.app_context():
        db.session.execute(update(WebhookDelivery).values(next_attempt_at=utcnow()))
        db.session.commit()
    _send(app)  # every delivery now has two attempts, the first (of 25) failed once more
    first = _text(admin.get(f"{BASE}/{endpoint_id}/deliveries"))
    assert "共 25 条" in first and "第 1 / 2 页" in first
    assert first.count('id="delivery-') == 20
    assert first.index("interview.cancelled:24") < first.index("interview.cancelled:5")
    assert "interview.cancelled:4<" not in first
    second = _text(admin.get(f"{BASE}/{endpoint_id}/deliveries?page=2"))
    assert second.count('id="delivery-') == 5 and "interview.cancelled:0<" in second
    assert "每次尝试（2）" in second and "HTTP 503" in second and "已送达" in second


# Re-enabling ------------------------------------------------------------------------------

def _disabled_with_history(app, make_endpoint, url):
    """An endpoint the sender disabled: one delivery finally failed, one still waiting."""
    endpoint_id = make_endpoint(url)
    factories.webhook_event(app, event_id="interview.cancelled:failed")
    factories.webhook_event(app, event_id="interview.cancelled:waiting")
    now = utcnow()
    with app.app_context():
        db.session.execute(update(WebhookDelivery).where(
            WebhookDelivery.event_id == "interview.cancelled:failed").values(
            status=DeliveryStatus.FAILED, attempts=9, last_error="24小时内多次重试仍失败：HTTP 500",
            first_attempt_at=now - timedelta(hours=25)))
        db.session.execute(update(WebhookEndpoint).values(
            active=False, consecutive_failures=5, disabled_at=now,
            disabled_reason="连续5个事件在24小时内重试后仍投递失败，已自动停用"))
        db.session.commit()
    return endpoint_id


def test_re_enabling_resumes_waiting_events_but_does_not_resend_failed_ones(
        app, admin, receiver, make_endpoint):
    endpoint_id = _disabled_with_history(app, make_endpoint, receiver.url)
    page = _text(admin.get(BASE))
    assert "已停用" in page and "连续5个事件在24小时内重试后仍投递失败，已自动停用" in page
    assert _send(app) == 0  # nothing goes to a disabled endpoint
    detail = f"{BASE}/{endpoint_id}"
    assert "重新启用" in _text(admin.get(detail))
    response = _post(admin, f"{detail}/enable", token_page=detail)
    assert response.status_code == 302
    row = _endpoint(app)
    assert row.active and row.consecutive_failures == 0 and row.disabled_reason is None
    assert _send(app) == 1
    assert [r.body for r in receiver.requests if b"waiting" in r.body]
    assert not [r for r in receiver.requests if b":failed" in r.body]
    [entry] = _audit(app, "webhook.enabled")
    assert entry.data["before"]["active"] is False
    assert entry.data["before"]["consecutive_failures"] == 5
    assert entry.data["after"] == {"active": True, "disabled_reason": None, "disabled_at": None,
                                   "consecutive_failures": 0}
    assert entry.data["requeued_failed"] == 0


def test_re_enabling_with_resend_sends_the_failed_events_again(app, admin, receiver,
                                                                make_endpoint):
    endpoint_id = _disabled_with_history(app, make_endpoint, receiver.url)
    detail = f"{BASE}/{endpoint_id}"
    response = _post(admin, f"{detail}/enable", {"resend_failed": "y"}, token_page=detail)
    assert response.status_code == 302
    assert "1 个失败的事件将重新投递" in _text(admin.get(detail))
    assert _send(app) == 2
    assert sorted(json.loads(r.body)["event_id"] for r in receiver.requests) == [
        "interview.cancelled:failed", "interview.cancelled:waiting"]
    with app.app_context():
        statuses = set(db.session.scalars(select(WebhookDelivery.status)))
    assert statuses == {DeliveryStatus.DELIVERED}
    assert _audit(app, "webhook.enabled")[0].data["requeued_failed"] == 1


def test_a_manual_pause_and_a_test_on_a_paused_endpoint(app, admin, receiver):
    _create(admin, receiver.url)
    endpoint_id = _endpoint(app).id
    detail = f"{BASE}/{endpoint_id}"
    _post(admin, f"{detail}/disable", token_page=detail)
    assert not _endpoint(app).active
    response = _post(admin, f"{detail}/test", {}, token_page=detail)
    assert response.status_code == 302
    assert "该地址已停用，请先重新启用再发送测试事件" in _text(admin.get(detail))
    with app.app_context():
        assert db.session.scalars(select(WebhookDelivery)).all() == []


# URL rules: https in production, the SSRF guard ------------------------------------------------

def test_production_requires_https(app, admin):
    app.config["ENV_NAME"] = "production"
    response = _post(admin, f"{BASE}/new", {"name": "ATS", "url": "http://127.0.0.1/h",
                                            "events": ["interview.cancelled"]},
                     token_page=f"{BASE}/new")
    assert "生产环境只允许 https:// 地址" in _text(response)
    assert 'data-code="webhook_https_required"' in _text(response)
    _create(admin, "https://127.0.0.1/h")  # private hosts are allowed in this test config


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/h", "http://localhost/h",
                                 "http://[::1]/h", "http://169.254.169.254/latest",
                                 "http://10.1.2.3/h", "http://192.168.0.10/h",
                                 "http://[::ffff:127.0.0.1]/h"])
def test_the_ssrf_guard_refuses_non_public_hosts_when_not_allowed(app, admin, url):
    app.config["WEBHOOK_ALLOW_PRIVATE_HOSTS"] = False
    response = _post(admin, f"{BASE}/new", {"name": "ATS", "url": url,
                                            "events": ["interview.cancelled"]},
                     token_page=f"{BASE}/new")
    assert response.status_code == 200
    assert "出于安全原因不允许" in _text(response)
    assert 'data-code="webhook_private_host"' in _text(response)
    with app.app_context():
        assert db.session.scalars(select(WebhookEndpoint)).all() == []


def test_the_sender_applies_the_ssrf_guard_at_send_time(app, receiver, make_endpoint,
                                                        monkeypatch):
    endpoint_id = make_endpoint(receiver.url)  # registered while private hosts were allowed
    factories.webhook_event(app, event_id="interview.cancelled:1")
    app.config["WEBHOOK_ALLOW_PRIVATE_HOSTS"] = False
    assert _send(app) == 1
    assert receiver.requests == []
    with app.app_context():
        delivery = db.session.scalars(select(WebhookDelivery)).one()
        assert delivery.status == DeliveryStatus.RETRYING
        assert delivery.last_error.startswith(
            "已拒绝发送：该地址指向内网、本机或链路本地地址（127.0.0.1）")
        db.session.execute(update(WebhookDelivery).values(next_attempt_at=utcnow()))
        db.session.commit()
    # A name that resolved to a public address at the check and to 127.0.0.1 at the
    # connect (DNS rebinding) reaches nothing either: the connection checks its peer.
    monkeypatch.setattr(urlguard, "check_url_host", lambda url: None)
    assert _send(app) == 1
    assert receiver.requests == []
    with app.app_context():
        delivery = db.session.scalars(select(WebhookDelivery)).one()
        assert "refused non-public address 127.0.0.1" in delivery.last_error
    assert endpoint_id


def test_the_guard_knows_public_from_private():
    assert urlguard.is_public("8.8.8.8") and urlguard.is_public("2606:4700:4700::1111")
    for address in ("127.0.0.1", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254",
                    "::1", "fe80::1", "fc00::1", "::ffff:10.0.0.1", "0.0.0.0", "100.64.0.1",
                    "224.0.0.1", "not-an-ip"):
        assert not urlguard.is_public(address), address


def test_the_setting_defaults_to_true_only_in_development_and_testing(monkeypatch):
    from config.settings import DevelopmentConfig, ProductionConfig, TestingConfig

    monkeypatch.delenv("WEBHOOK_ALLOW_PRIVATE_HOSTS", raising=False)
    assert DevelopmentConfig().WEBHOOK_ALLOW_PRIVATE_HOSTS is True
    assert TestingConfig().WEBHOOK_ALLOW_PRIVATE_HOSTS is True
    assert ProductionConfig().WEBHOOK_ALLOW_PRIVATE_HOSTS is False
    monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE_HOSTS", "true")
    assert ProductionConfig().WEBHOOK_ALLOW_PRIVATE_HOSTS is True
    monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE_HOSTS", "false")
    assert DevelopmentConfig().WEBHOOK_ALLOW_PRIVATE_HOSTS is False


# Access -------------------------------------------------------------------------------------

ROUTES = [("get", BASE), ("get", f"{BASE}/new"), ("post", f"{BASE}/new"),
          ("get", f"{BASE}/{{id}}"), ("post", f"{BASE}/{{id}}"),
          ("post", f"{BASE}/{{id}}/rotate-secret"), ("post", f"{BASE}/{{id}}/test"),
          ("post", f"{BASE}/{{id}}/disable"), ("post", f"{BASE}/{{id}}/enable"),
          ("post", f"{BASE}/{{id}}/resend-failed"), ("get", f"{BASE}/{{id}}/deliveries")]


@pytest.mark.parametrize("role", [Role.RECRUITING_MANAGER, Role.RECRUITING_SPECIALIST,
                                  Role.INTERVIEWER])
@pytest.mark.parametrize("method,path", ROUTES)
def test_only_admins_reach_every_webhook_route(app, make_user, login, make_endpoint, role,
                                               method, path):
    endpoint_id = make_endpoint("https://ats.example.com/h")
    make_user(username="other", role=role)
    other = app.test_client()
    assert login(other, "other").status_code == 302
    token = factories.csrf_token(other, "/console/interviews")
    url = path.format(id=endpoint_id)
    response = (other.get(url) if method == "get" else other.post(url, data={
        "csrf_token": token, "name": "x", "url": "https://evil.example.com/h",
        "events": ["interview.cancelled"]}))
    assert response.status_code == 403
    row = _endpoint(app)
    assert row.url == "https://ats.example.com/h" and row.active
    with app.app_context():
        assert len(db.session.scalars(select(WebhookEndpoint)).all()) == 1
        assert db.session.scalars(select(WebhookDelivery)).all() == []


@pytest.mark.parametrize("path", [p for m, p in ROUTES if m == "post"])
def test_every_webhook_change_needs_the_csrf_token(app, admin, make_endpoint, path):
    endpoint_id = make_endpoint("https://ats.example.com/h")
    response = admin.post(path.format(id=endpoint_id), data={
        "name": "x", "url": "https://other.example.com/h", "events": ["interview.cancelled"],
        "resend_failed": "y"})
    assert response.status_code == 400
    row = _endpoint(app)
    assert row.url == "https://ats.example.com/h" and row.active
    with app.app_context():
        assert len(db.session.scalars(select(WebhookEndpoint)).all()) == 1
        assert db.session.scalars(select(WebhookDelivery)).all() == []
    assert [e.action for e in _audit(app)] == ["webhook.created"]  # the factory's


def test_the_endpoint_services_check_the_permission_themselves(app, make_user, make_endpoint):
    from app.core.errors import Forbidden
    from app.models import HrUser

    endpoint_id = make_endpoint("https://ats.example.com/h")
    manager_id = make_user(username="jingli", role=Role.RECRUITING_MANAGER)
    with app.app_context():
        actor = Actor.hr(db.session.get(HrUser, manager_id))
        for call in (lambda: endpoints.list_endpoints(actor),
                     lambda: endpoints.create_endpoint(actor, name="x",
                                                       url="https://a.example.com/h",
                                                       events=["interview.cancelled"]),
                     lambda: endpoints.rotate_secret(endpoint_id, actor),
                     lambda: endpoints.send_test(endpoint_id, actor),
                     lambda: endpoints.enable_endpoint(endpoint_id, actor),
                     lambda: endpoints.deliveries(endpoint_id, actor),
                     lambda: endpoints.enable_endpoint(endpoint_id, Actor.candidate(1))):
            with pytest.raises(Forbidden):
                call()


def test_the_settings_hub_links_to_webhooks(app, admin):
    assert f'href="{BASE}"' in _text(admin.get("/console/settings"))

"""Production posture (issue 12, section 5): /metrics is never open in production, HSTS
and secure cookies, the message-open page framed by nobody."""
from __future__ import annotations

import pytest

from app import create_app
from config import ConfigError, ProductionConfig


def test_production_refuses_to_start_without_a_metrics_token(production_environ):
    production_environ(METRICS_TOKEN=None)
    with pytest.raises(ConfigError, match="METRICS_TOKEN"):
        ProductionConfig().validate()


def test_a_private_metrics_listener_replaces_the_token(production_environ):
    production_environ(METRICS_TOKEN=None, METRICS_PRIVATE_PORT="9100")
    ProductionConfig().validate()


@pytest.fixture
def production_app(production_environ):
    production_environ()
    app = create_app(ProductionConfig())
    yield app
    from app.extensions import db

    with app.app_context():
        db.engine.dispose()


def test_production_sends_hsts_and_secure_cookies(production_app):
    client = production_app.test_client()
    page = client.get("/console/login", base_url="https://hr.example.com")
    assert page.status_code == 200
    assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    cookie = page.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert production_app.config["REMEMBER_COOKIE_SECURE"] is True


def test_production_metrics_need_the_token(production_app):
    client = production_app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_development_sends_no_hsts(app, client):
    assert "Strict-Transport-Security" not in client.get("/console/login").headers


def test_metrics_on_a_private_port_only(app, client):
    app.config.update(METRICS_TOKEN=None, METRICS_PRIVATE_PORT=9100)
    assert client.get("/metrics").status_code == 404  # the public listener (port 80 here)
    private = client.get("/metrics", environ_overrides={"SERVER_PORT": "9100"})
    assert private.status_code == 200 and b"aiic_outbox_messages" in private.data


@pytest.mark.parametrize("token", ["", "not-a-token"])
def test_the_message_open_page_gets_the_consoles_policy(app, client, token):
    response = client.get("/m/open", query_string={"t": token} if token else {})
    assert response.status_code == 404
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    assert "<style>" not in response.get_data(as_text=True)  # the policy allows none inline
    assert client.get("/static/landing.css").status_code == 200


def test_an_opened_message_page_keeps_the_policy(app, client, demo):
    from sqlalchemy import select

    from app.extensions import db
    from app.models import OutboxMessage
    from tests.factories import outbox_message

    iv = demo["candidates"][0]
    with app.app_context():
        from app.models import Interview

        interview_id = db.session.scalar(select(Interview.id).where(
            Interview.public_id == iv["interview_ids"][0]))
    row_id = outbox_message(app, interview_id, open_token="tok-" + "a" * 20,
                            kind="candidate_cancel_confirmed",
                            context={"candidate_name": "张三", "position_title": "Java工程师",
                                     "scheduled_at": "2026-12-06T06:00:00+00:00",
                                     "reason_label": "时间冲突"})
    response = client.get("/m/open", query_string={"t": "tok-" + "a" * 20})
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"] == "no-referrer"  # the page's own, kept
    with app.app_context():
        assert db.session.get(OutboxMessage, row_id).read_at is not None

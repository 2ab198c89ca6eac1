"""The console banner shows the open watchdog alerts a user sees (their department's or
those they were told of; admins all), until acknowledged (知道了, audited)."""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from app.extensions import db
from app.models import Alert, AuditEntry, Role
from app.services.watchdogs.alerts import Condition, reconcile
from tests import factories

NOW = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


def _open(app, department="技术部", recipients=(), key="candidate_unreachable:1"):
    with app.app_context():
        result = reconcile(("candidate_unreachable",), [Condition(
            "candidate_unreachable", key, "AI-2026-12-01-001 Java工程师",
            "所有渠道均无法送达候选人", tuple(recipients), department=department)], NOW)
        db.session.commit()
        return result.opened[0]


def _client(app, username, role=Role.RECRUITING_SPECIALIST, departments=("技术部",)):
    factories.hr_user(app, username, role=role, departments=departments)
    client = app.test_client()
    assert factories.console_login(client, username).status_code == 302
    return client


def test_the_banner_shows_the_departments_alert_to_its_hr_and_not_to_others(app):
    alert_id = _open(app)
    tech = _client(app, "tech")
    sales = _client(app, "sales", departments=("销售部",))
    page = tech.get("/console/interviews").get_data(as_text=True)
    assert 'id="alert-banner"' in page and f'data-alert-id="{alert_id}"' in page
    assert "候选人无法触达" in page
    assert 'id="alert-banner"' not in sales.get("/console/interviews").get_data(as_text=True)


def test_interviewers_do_not_get_department_banners_but_admins_see_all(app):
    _open(app, department="销售部")
    viewer = _client(app, "viewer", role=Role.INTERVIEWER, departments=("销售部",))
    admin = _client(app, "root", role=Role.ADMIN, departments=())
    assert 'id="alert-banner"' not in viewer.get("/console/interviews").get_data(as_text=True)
    assert 'id="alert-banner"' in admin.get("/console/interviews").get_data(as_text=True)


def test_acknowledging_hides_the_banner_and_is_audited(app):
    alert_id = _open(app)
    tech = _client(app, "tech")
    token = factories.csrf_token(tech, "/console/interviews")
    r = tech.post(f"/console/alerts/{alert_id}/acknowledge",
                  data={"csrf_token": token, "next": "/console/interviews"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/console/interviews")
    assert 'id="alert-banner"' not in tech.get("/console/interviews").get_data(as_text=True)
    listing = tech.get("/console/alerts").get_data(as_text=True)
    assert f'data-alert-id="{alert_id}"' in listing and "已确认" in listing
    with app.app_context():
        alert = db.session.get(Alert, alert_id)
        assert alert.acknowledged_at is not None and alert.cleared_at is None
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "alert.acknowledged")).one()
        assert entry.object_id == alert_id and entry.actor_type == "hr"


def test_another_departments_alert_cannot_be_acknowledged(app):
    alert_id = _open(app, department="销售部")
    tech = _client(app, "tech")
    token = factories.csrf_token(tech, "/console/interviews")
    r = tech.post(f"/console/alerts/{alert_id}/acknowledge", data={"csrf_token": token})
    assert r.status_code == 404
    with app.app_context():
        assert db.session.get(Alert, alert_id).acknowledged_at is None


def test_acknowledging_needs_the_csrf_token(app):
    alert_id = _open(app)
    tech = _client(app, "tech")
    assert tech.post(f"/console/alerts/{alert_id}/acknowledge").status_code == 400


def test_a_user_told_of_an_admins_alert_sees_it(app):
    user = factories.hr_user(app, "told", departments=("销售部",))
    _open(app, department=None, recipients=(user,), key="candidate_unreachable:9")
    client = app.test_client()
    assert factories.console_login(client, "told").status_code == 302
    assert 'id="alert-banner"' in client.get("/console/interviews").get_data(as_text=True)


def test_the_acknowledge_redirect_stays_in_the_console(app):
    alert_id = _open(app)
    tech = _client(app, "tech")
    token = factories.csrf_token(tech, "/console/interviews")
    r = tech.post(f"/console/alerts/{alert_id}/acknowledge",
                  data={"csrf_token": token, "next": "https://evil.example.com/"})
    assert r.headers["Location"].endswith("/console/alerts")


def test_the_mobile_pages_show_the_banner_too(app):
    alert_id = _open(app)
    factories.hr_user(app, "tech", departments=("技术部",))
    factories.bind_hr_wechat(app, "tech")
    client = app.test_client()
    assert factories.mobile_login(client, "sandbox-hr-tech").status_code == 302
    page = client.get("/console/m/approvals").get_data(as_text=True)
    assert f'data-alert-id="{alert_id}"' in page and "候选人无法触达" in page

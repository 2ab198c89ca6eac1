"""The console's personal-data page: erasure requests with their deadlines for admins and
recruiting managers (in their departments), 立即删除 through the same anonymisation
(CSRF, audited), and the privacy rules (admins only; bad values refused beside the field)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.core.timeutil import utcnow
from app.extensions import db
from app.models import (
    AuditEntry,
    Candidate,
    ErasureRequest,
    ErasureStatus,
    HrUser,
    Interview,
    InterviewStatus,
    Role,
)
from app.services.candidates import privacy
from app.services.users.actor import Actor
from tests import factories


def _request(app, department="技术部", status=InterviewStatus.SCHEDULED):
    pos = factories.position(app, department=department)
    iv = factories.interview(app, f"AI-P-{department}", position_id=pos,
                             scheduled_at=utcnow() + timedelta(days=3), status=status)
    with app.app_context():
        request, _ = privacy.request_erasure(iv.candidate_id, utcnow())
        return request.id, iv.candidate_id


def _client(app, username, role, departments=("技术部",)):
    factories.hr_user(app, username, role=role, departments=departments)
    client = app.test_client()
    assert factories.console_login(client, username).status_code == 302
    return client


@pytest.mark.parametrize("role,status", [(Role.ADMIN, 200), (Role.RECRUITING_MANAGER, 200),
                                         (Role.RECRUITING_SPECIALIST, 403),
                                         (Role.INTERVIEWER, 403)])
def test_who_may_open_the_privacy_page(app, role, status):
    client = _client(app, "u1", role)
    assert client.get("/console/privacy").status_code == status


def test_a_manager_sees_their_departments_requests_with_the_deadline(app):
    mine, _ = _request(app)
    other, _ = _request(app, "销售部")
    page = _client(app, "mgr", Role.RECRUITING_MANAGER).get("/console/privacy")
    html = page.get_data(as_text=True)
    assert f'data-request-id="{mine}"' in html and f'data-request-id="{other}"' not in html
    assert "剩余" in html and "个工作日" in html


def test_erasing_now_anonymises_and_is_audited(app):
    request_id, candidate_id = _request(app, status=InterviewStatus.CANCELLED)
    client = _client(app, "mgr", Role.RECRUITING_MANAGER)
    token = factories.csrf_token(client, "/console/privacy")
    r = client.post(f"/console/privacy/requests/{request_id}/erase",
                    data={"csrf_token": token})
    assert r.status_code == 302
    with app.app_context():
        request = db.session.get(ErasureRequest, request_id)
        assert request.status == ErasureStatus.DONE and request.completed_by is not None
        assert db.session.get(Candidate, candidate_id).name == "已匿名化"
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "candidate.anonymised")).one()
        assert entry.actor_type == "hr" and entry.data["trigger"] == "request"
    again = client.post(f"/console/privacy/requests/{request_id}/erase",
                        data={"csrf_token": token})
    assert again.status_code == 409


def test_another_departments_request_cannot_be_erased(app):
    request_id, candidate_id = _request(app, "销售部")
    client = _client(app, "mgr", Role.RECRUITING_MANAGER)
    token = factories.csrf_token(client, "/console/privacy")
    r = client.post(f"/console/privacy/requests/{request_id}/erase",
                    data={"csrf_token": token})
    assert r.status_code == 404
    with app.app_context():
        assert db.session.get(Candidate, candidate_id).name != "已匿名化"


def test_erasing_needs_the_csrf_token(app):
    request_id, _ = _request(app)
    client = _client(app, "mgr", Role.RECRUITING_MANAGER)
    assert client.post(f"/console/privacy/requests/{request_id}/erase").status_code == 400


def test_admins_change_the_privacy_rules_and_bad_values_are_refused(app):
    admin = _client(app, "root", Role.ADMIN, departments=())
    token = factories.csrf_token(admin, "/console/privacy")
    r = admin.post("/console/privacy/rules", data={
        "csrf_token": token, "retention_days": "365", "erasure_deadline_working_days": "10",
        "notice_version": "2027-01", "require_notice_version": "on"})
    assert r.status_code == 302
    with app.app_context():
        rules = privacy.get_privacy_rules()
        assert (rules.retention_days, rules.erasure_deadline_working_days,
                rules.notice_version, rules.require_notice_version) == (365, 10, "2027-01",
                                                                        True)
        assert db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "settings.privacy_changed")).one().data["after"][
                "retention_days"] == 365
    bad = admin.post("/console/privacy/rules", data={
        "csrf_token": token, "retention_days": "5", "erasure_deadline_working_days": "x",
        "notice_version": "2027-01"})
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert 'data-code="field_out_of_range"' in html and "30 到 3650" in html


def test_managers_cannot_change_the_privacy_rules(app):
    client = _client(app, "mgr", Role.RECRUITING_MANAGER)
    token = factories.csrf_token(client, "/console/privacy")
    assert 'id="privacy-rules"' not in client.get("/console/privacy").get_data(as_text=True)
    r = client.post("/console/privacy/rules", data={"csrf_token": token,
                                                    "retention_days": "30"})
    assert r.status_code == 403


def test_the_settings_page_links_the_privacy_rules(app):
    admin = _client(app, "root", Role.ADMIN, departments=())
    assert "/console/privacy#privacy-rules" in admin.get("/console/settings").get_data(
        as_text=True)


def test_a_request_of_a_candidate_with_open_interviews_warns_to_cancel_them_first(app):
    _request(app)   # its interview is three days ahead, still scheduled
    html = _client(app, "mgr", Role.RECRUITING_MANAGER).get("/console/privacy").get_data(
        as_text=True)
    assert "还有1场未结束的面试，删除前请先取消" in html


def test_erasing_a_candidate_whose_interview_is_still_open_is_refused(app):
    """Erased first, the interview would stay scheduled for a person who no longer has a
    name, and nobody would be told: refused (409, a stable code), nothing changed; once
    HR has cancelled it, the erasure goes through."""
    request_id, candidate_id = _request(app)
    client = _client(app, "mgr", Role.RECRUITING_MANAGER)
    token = factories.csrf_token(client, "/console/privacy")
    r = client.post(f"/console/privacy/requests/{request_id}/erase",
                    data={"csrf_token": token}, follow_redirects=True)
    assert "该候选人还有1场未结束的面试，请先取消这些面试" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(ErasureRequest, request_id).status == ErasureStatus.PENDING
        assert db.session.get(Candidate, candidate_id).name != "已匿名化"
        assert not db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "candidate.anonymised")).all()
        manager = Actor.hr(db.session.scalars(select(HrUser).where(
            HrUser.username == "mgr")).one())
        with pytest.raises(privacy.ErasureWithOpenInterviews) as refused:
            privacy.erase_by_hr(manager, request_id, utcnow())
        assert refused.value.code == "erasure_open_interviews" and refused.value.status == 409
        db.session.rollback()
        interview = db.session.scalars(select(Interview).where(
            Interview.candidate_id == candidate_id)).one()
        interview.status = InterviewStatus.CANCELLED
        db.session.commit()
        privacy.erase_by_hr(manager, request_id, utcnow())
        assert db.session.get(Candidate, candidate_id).name == "已匿名化"

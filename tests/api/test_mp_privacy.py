"""The candidate's personal data in the mini program: what is held (their own only), a
JSON download, an erasure request (once; HR or the deadline carries it out, after which
the WeChat binding is gone), and the privacy-notice version recorded at binding."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEntry, ErasureRequest, HrUser, PrivacyConsent, Role
from app.services.candidates import privacy
from app.services.users.actor import Actor
from tests import factories
from tests.factories import API


@pytest.fixture
def two(app, mp_login):
    me = factories.mp_candidate(app, "priv-me", "张三", phone="13800138000")
    other = factories.mp_candidate(app, "priv-other", "李四", phone="13900139000")
    return me, other, mp_login("priv-me", bound=True)


def test_a_candidate_sees_what_is_held_about_them_and_nobody_else(client, two):
    me, _, auth = two
    r = client.get(f"{API}/privacy/data", headers=auth)
    assert r.status_code == 200
    body = r.get_json()
    assert body["candidate"] == {"name": "张三", "phone": "13800138000", "email": None}
    assert [a["openid"] for a in body["wechat_accounts"]] == ["priv-me"]
    assert len(body["interviews"]) == 1 and body["erasure_request"] is None
    assert "李四" not in r.get_data(as_text=True) and "13900139000" not in r.get_data(as_text=True)
    assert body["retention_days"] == 180


def test_the_download_is_a_json_attachment_and_is_audited(app, client, two):
    me, _, auth = two
    r = client.get(f"{API}/privacy/data/export", headers=auth)
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert r.headers["Content-Disposition"].startswith("attachment; filename=")
    assert json.loads(r.get_data(as_text=True))["candidate"]["name"] == "张三"
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "candidate.data_exported")).one()
        assert entry.object_id == me["id"] and "13800138000" not in str(entry.data)


def test_privacy_endpoints_need_a_bound_candidate(client, mp_login):
    stranger = mp_login("priv-stranger", bound=False)
    for method, path in (("get", "/privacy/data"), ("get", "/privacy/data/export"),
                         ("post", "/privacy/erasure-request")):
        r = getattr(client, method)(f"{API}{path}", headers=stranger)
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "candidate_not_bound"
        assert getattr(client, method)(f"{API}{path}").status_code == 401


def test_an_erasure_request_is_made_once_with_its_deadline(app, client, two):
    me, _, auth = two
    first = client.post(f"{API}/privacy/erasure-request", headers=auth)
    assert first.status_code == 201 and first.get_json()["created"] is True
    request = first.get_json()["erasure_request"]
    assert request["status"] == "pending" and request["due_at"] > request["requested_at"]
    again = client.post(f"{API}/privacy/erasure-request", headers=auth)
    assert again.status_code == 200 and again.get_json()["created"] is False
    assert again.get_json()["erasure_request"] == request
    held = client.get(f"{API}/privacy/data", headers=auth).get_json()
    assert held["erasure_request"]["status"] == "pending"
    with app.app_context():
        assert len(db.session.scalars(select(ErasureRequest)).all()) == 1


def test_after_hr_erases_the_candidate_is_no_longer_bound(app, client, two):
    me, _, auth = two
    client.post(f"{API}/privacy/erasure-request", headers=auth)
    admin = factories.hr_user(app, "admin-p", role=Role.ADMIN, departments=())
    with app.app_context():
        actor = Actor.hr(db.session.get(HrUser, admin))
        request = db.session.scalars(select(ErasureRequest)).one()
        from app.core.timeutil import utcnow
        from app.models import Interview, InterviewStatus

        for interview in db.session.scalars(select(Interview).where(   # over: erasable
                Interview.candidate_id == request.candidate_id)):
            interview.status = InterviewStatus.COMPLETED
        db.session.commit()
        privacy.erase_by_hr(actor, request.id, utcnow())
    r = client.get(f"{API}/privacy/data", headers=auth)
    assert r.status_code in (401, 403)   # the session went with the binding
    r = client.post(f"{API}/auth/login", json={"code": "sandbox:priv-me"})
    assert r.get_json()["bound"] is False


def _bind(app, client, mp_login, body_extra):
    cid = factories.candidate(app, "钱多多", phone="13900001111")
    from app.services.candidates.binding import create_invite

    with app.app_context():
        token = create_invite(cid)
        db.session.commit()
    auth = mp_login("priv-binder", bound=False)
    return cid, client.post(f"{API}/auth/bind", headers=auth,
                            json={"invite_token": token, **body_extra})


def test_binding_records_the_notice_version_accepted(app, client, mp_login):
    cid, r = _bind(app, client, mp_login, {"privacy_version": "2026-12"})
    assert r.status_code == 200
    with app.app_context():
        consent = db.session.scalars(select(PrivacyConsent)).one()
        assert (consent.candidate_id, consent.notice_version) == (cid, "2026-12")
        assert consent.accepted_at is not None


def test_binding_without_a_version_is_fine_unless_the_rules_require_it(app, client, mp_login):
    admin = factories.hr_user(app, "admin-v", role=Role.ADMIN, departments=())
    with app.app_context():
        privacy.change_privacy_rules(Actor.hr(db.session.get(HrUser, admin)),
                                     {"require_notice_version": True,
                                      "notice_version": "2027-01"})
    cid, r = _bind(app, client, mp_login, {})
    assert r.status_code == 422
    error = r.get_json()["error"]
    assert error["code"] == "privacy_notice_required"
    assert error["details"]["current_version"] == "2027-01"
    auth = factories.mp_login(client, "priv-binder")
    with app.app_context():
        from app.services.candidates.binding import create_invite

        token = create_invite(cid)
        db.session.commit()
    old = client.post(f"{API}/auth/bind", headers=auth,
                      json={"invite_token": token, "privacy_version": "2026-12"})
    assert old.status_code == 422   # an outdated notice
    ok = client.post(f"{API}/auth/bind", headers=auth,
                     json={"invite_token": token, "privacy_version": "2027-01"})
    assert ok.status_code == 200


def test_a_version_that_is_not_text_is_a_clear_error(app, client, mp_login):
    _, r = _bind(app, client, mp_login, {"privacy_version": 5})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "field_invalid"


def test_downloads_and_erasure_requests_are_rate_limited_per_user(app, client, two):
    _, _, auth = two
    app.config["RATE_LIMITS"] = {"mp_write": {"user": (2, 60)}}
    assert client.get(f"{API}/privacy/data/export", headers=auth).status_code == 200
    assert client.post(f"{API}/privacy/erasure-request", headers=auth).status_code == 201
    r = client.get(f"{API}/privacy/data/export", headers=auth)
    assert r.status_code == 429 and r.get_json()["error"]["code"] == "rate_limited"
    assert client.get(f"{API}/privacy/data", headers=auth).status_code == 200  # reading: free

"""Every action by anyone or any job leaves an audit entry naming the actor, the client IP
(console and mini program), the object, and what changed: each action below is done the
way its user does it (console forms, the candidate API, the scheduled job)."""
from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.core.timeutil import utcnow
from app.extensions import db
from app.models import (
    AuditEntry,
    Cancellation,
    HrUser,
    Interview,
    InterviewSession,
    InterviewStatus,
    Position,
)
from app.services.audit import labels
from app.services.cancellation import system
from tests.factories import API, CSRF_RE, DEMO_PASSWORD, console_login, csrf_token, mp_login

IP = "198.51.100.23"


def _from_ip(client):
    client.environ_base["REMOTE_ADDR"] = IP
    return client


def hr(app, username: str):
    client = _from_ip(app.test_client())
    assert console_login(client, username, DEMO_PASSWORD).status_code == 302
    return client


def candidate(app, demo, *, review: bool = False):
    """A demo candidate (on a position that needs review, or not) logged in to the API
    from IP; returns (client, auth headers, the candidate's demo entry)."""
    # the last such candidate: tech_interview() (HR's target) is the first interview
    entry = [c for c in demo["candidates"] if c["position_review"] == review][-1]
    client = _from_ip(app.test_client())
    return client, mp_login(client, entry["openid"], bound=True), entry


def user_id(app, username: str) -> int:
    with app.app_context():
        return db.session.scalar(select(HrUser.id).where(HrUser.username == username))


def interview_id(app, public_id: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Interview.id).where(Interview.public_id == public_id))


def tech_interview(app) -> str:
    with app.app_context():
        return db.session.scalars(select(Interview.public_id).join(Interview.position).where(
            Position.department == "技术部", Position.cancel_requires_review.is_(False))
            .order_by(Interview.id)).first()


def _csrf(client, path="/console/interviews"):
    return csrf_token(client, path)


def _key():
    return {"Idempotency-Key": str(uuid.uuid4())}


# --- the actions, each as its user does it: returns (actor id, object type, object id) --

def console_sign_in(app, demo):
    hr(app, "specialist")
    uid = user_id(app, "specialist")
    return uid, "hr_user", uid


def console_sign_in_failed(app, demo):
    client = _from_ip(app.test_client())
    assert console_login(client, "specialist", "wrong-password").status_code == 200
    uid = user_id(app, "specialist")
    return uid, "hr_user", uid


def console_sign_out(app, demo):
    client = hr(app, "specialist")
    assert client.post("/console/logout",
                       data={"csrf_token": _csrf(client)}).status_code == 302
    uid = user_id(app, "specialist")
    return uid, "hr_user", uid


def console_password_changed(app, demo):
    client = hr(app, "specialist")
    r = client.post("/console/account/password", data={
        "csrf_token": _csrf(client, "/console/account/password"),
        "current_password": DEMO_PASSWORD, "new_password": "a-new-pass-2026!",
        "confirm_password": "a-new-pass-2026!"})
    assert r.status_code == 302, r.get_data(as_text=True)
    uid = user_id(app, "specialist")
    return uid, "hr_user", uid


def hr_cancels(app, demo):
    client = hr(app, "specialist")
    public_id = tech_interview(app)
    r = client.post(f"/console/interviews/{public_id}/cancel", data={
        "csrf_token": _csrf(client), "reason_code": "position_paused", "note": "编制冻结",
        "notify": ["candidate"]})
    assert r.status_code == 302
    return user_id(app, "specialist"), "interview", interview_id(app, public_id)


def hr_unbinds_wechat(app, demo):
    client = hr(app, "manager")
    public_id = tech_interview(app)
    r = client.post(f"/console/interviews/{public_id}/unbind-wechat",
                    data={"csrf_token": _csrf(client)})
    assert r.status_code == 302
    with app.app_context():
        cid = db.session.scalar(select(Interview.candidate_id)
                                .where(Interview.public_id == public_id))
    return user_id(app, "manager"), "candidate", cid


def _request_review(app, demo):
    client, auth, entry = candidate(app, demo, review=True)
    public_id = entry["interview_ids"][0]
    r = client.post(f"{API}/interviews/{public_id}/cancel", headers={**auth, **_key()},
                    json={"reason_code": "time_conflict"})
    assert r.status_code == 200 and r.get_json()["status"] == "cancel_pending", r.get_json()
    with app.app_context():
        cancellation_id = db.session.scalar(select(Cancellation.id).join(
            Interview, Interview.id == Cancellation.interview_id)
            .where(Interview.public_id == public_id))
    return client, auth, entry, public_id, cancellation_id


def _decide(app, cancellation_id: int, action: str, comment: str = "",
            username: str = "manager"):
    client = hr(app, username)
    page = client.get("/console/approvals").get_data(as_text=True)
    r = client.post(f"/console/approvals/{cancellation_id}/{action}",
                    data={"csrf_token": CSRF_RE.search(page).group(1), "comment": comment})
    assert r.status_code == 302


def hr_approves(app, demo):
    """Every level: the manager decides the first, an admin the second (senior
    positions); the final approval is the one named 审批通过."""
    _, _, _, public_id, cancellation_id = _request_review(app, demo)
    approver = "manager"
    _decide(app, cancellation_id, "approve", username=approver)
    with app.app_context():
        pending = db.session.scalar(select(Interview.status).where(
            Interview.public_id == public_id)) == InterviewStatus.CANCEL_PENDING
    if pending:
        approver = "admin"
        _decide(app, cancellation_id, "approve", username=approver)
    return user_id(app, approver), "interview", interview_id(app, public_id)


def hr_rejects(app, demo):
    _, _, _, public_id, cancellation_id = _request_review(app, demo)
    _decide(app, cancellation_id, "reject", "面试不可取消")
    return user_id(app, "manager"), "interview", interview_id(app, public_id)


def hr_asks_for_detail(app, demo):
    _, _, _, public_id, cancellation_id = _request_review(app, demo)
    _decide(app, cancellation_id, "ask-detail", "请说明具体原因")
    return user_id(app, "manager"), "interview", interview_id(app, public_id)


def candidate_answers_detail(app, demo):
    client, auth, entry, public_id, cancellation_id = _request_review(app, demo)
    _decide(app, cancellation_id, "ask-detail", "请说明具体原因")
    r = client.post(f"{API}/interviews/{public_id}/cancel-request/detail", headers=auth,
                    json={"note": "家中有急事"})
    assert r.status_code == 200, r.get_json()
    return entry["id"], "interview", interview_id(app, public_id)


def candidate_requests_cancel(app, demo):
    _, _, entry, public_id, _ = _request_review(app, demo)
    return entry["id"], "interview", interview_id(app, public_id)


def hr_batch_cancels(app, demo):
    client = hr(app, "manager")
    with app.app_context():
        session_id = db.session.execute(
            select(Interview.session_id).join(Interview.position)
            .where(Position.department != "销售部", Position.cancel_requires_review.is_(False),
                   Interview.session_id.is_not(None))
            .order_by(Interview.id)).scalars().first()
    r = client.post("/console/batch", data={"csrf_token": _csrf(client), "step": "preview",
                                            "session_id": session_id,
                                            "reason_code": "system_failure"})
    html = r.get_data(as_text=True)
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    assert client.post("/console/batch/confirm", data={
        "csrf_token": CSRF_RE.search(html).group(1), "token": token}).status_code == 302
    with app.app_context():
        batch_id = db.session.scalar(select(AuditEntry.object_id).where(
            AuditEntry.action == "batch.created"))
    return user_id(app, "manager"), "cancel_batch", batch_id


def candidate_cancels(app, demo):
    client, auth, entry = candidate(app, demo)
    public_id = entry["interview_ids"][0]
    r = client.post(f"{API}/interviews/{public_id}/cancel", headers={**auth, **_key()},
                    json={"reason_code": "time_conflict"})
    assert r.status_code == 200, r.get_json()
    return entry["id"], "interview", interview_id(app, public_id)


def candidate_confirms(app, demo):
    client, auth, entry = candidate(app, demo)
    public_id = entry["interview_ids"][0]
    assert client.post(f"{API}/interviews/{public_id}/confirm",
                       headers=auth).status_code == 200
    return entry["id"], "interview", interview_id(app, public_id)


def candidate_reschedules(app, demo):
    client, auth, entry = candidate(app, demo)
    public_id = entry["interview_ids"][0]
    with app.app_context():
        iv = db.session.scalars(select(Interview).where(Interview.public_id == public_id)).one()
        slot = InterviewSession(position_id=iv.position_id,
                                starts_at=utcnow() + timedelta(hours=5),
                                ends_at=utcnow() + timedelta(hours=6), capacity=3, booked=0)
        db.session.add(slot)
        db.session.commit()
        slot_id = slot.id
    r = client.post(f"{API}/interviews/{public_id}/reschedule", headers={**auth, **_key()},
                    json={"slot_id": str(slot_id)})
    assert r.status_code == 200, r.get_json()
    return entry["id"], "interview", interview_id(app, public_id)


def candidate_gives_feedback(app, demo):
    client, auth, entry = candidate(app, demo)
    public_id = entry["interview_ids"][0]
    r = client.post(f"{API}/feedback", headers=auth,
                    json={"interview_id": public_id, "content": "希望能改到周末"})
    assert r.status_code == 201, r.get_json()
    return entry["id"], "interview", interview_id(app, public_id)


def candidate_binds(app, demo):
    from app.services.candidates.binding import create_invite
    from tests import factories

    cid = factories.candidate(app, "钱多多", phone="13900001111")
    with app.app_context():
        token = create_invite(cid)
        db.session.commit()
    client = _from_ip(app.test_client())
    auth = mp_login(client, "stranger-audit", bound=False)
    r = client.post(f"{API}/auth/bind", headers=auth, json={"invite_token": token})
    assert r.status_code == 200, r.get_json()
    return cid, "candidate", cid


SCENARIOS = {
    # action: (how, actor type, client IP recorded)
    "hr_user.signed_in": (console_sign_in, "hr", True),
    "hr_user.sign_in_failed": (console_sign_in_failed, "hr", True),
    "hr_user.signed_out": (console_sign_out, "hr", True),
    "hr_user.password_changed": (console_password_changed, "hr", True),
    "interview.cancelled": (hr_cancels, "hr", True),
    "candidate.unbound": (hr_unbinds_wechat, "hr", True),
    "interview.cancel_approved": (hr_approves, "hr", True),
    "interview.cancel_rejected": (hr_rejects, "hr", True),
    "interview.cancel_detail_requested": (hr_asks_for_detail, "hr", True),
    "batch.created": (hr_batch_cancels, "hr", True),
    "interview.cancel_requested": (candidate_requests_cancel, "candidate", True),
    "interview.cancel_detail_answered": (candidate_answers_detail, "candidate", True),
    "interview.confirmed": (candidate_confirms, "candidate", True),
    "interview.rescheduled": (candidate_reschedules, "candidate", True),
    "feedback.submitted": (candidate_gives_feedback, "candidate", True),
    "candidate.bound": (candidate_binds, "candidate", True),
}
# candidate cancels: the same action code as the HR cancel, told apart by the actor
CANDIDATE_CANCEL = "interview.cancelled/candidate"


@pytest.mark.parametrize("action", [*SCENARIOS, CANDIDATE_CANCEL])
def test_each_action_is_audited_with_actor_ip_and_object(app, demo, action):
    if action == CANDIDATE_CANCEL:
        how, actor_type, code = candidate_cancels, "candidate", "interview.cancelled"
    else:
        (how, actor_type, _), code = SCENARIOS[action], action
    actor_id, object_type, object_id = how(app, demo)
    with app.app_context():
        entries = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == code, AuditEntry.actor_type == actor_type)
            .order_by(AuditEntry.id)).all()
    assert entries, f"no {code} entry by {actor_type}"
    entry = entries[-1]
    assert (entry.actor_id, entry.object_type, entry.object_id) == \
        (actor_id, object_type, object_id)
    assert entry.ip == IP
    assert entry.at is not None
    assert code in labels.ACTION_LABELS


def test_status_changes_record_before_and_after(app, demo):
    hr_cancels(app, demo)
    candidate_confirms(app, demo)
    with app.app_context():
        for action, before, after in (("interview.cancelled", "scheduled", "cancelled"),
                                      ("interview.confirmed", "scheduled", "confirmed")):
            entry = db.session.scalars(select(AuditEntry).where(
                AuditEntry.action == action)).first()
            assert entry.data["before"] == {"status": before}, action
            assert entry.data["after"] == {"status": after}, action


def test_a_batch_records_every_cancel_from_the_confirming_address(app, demo):
    hr_batch_cancels(app, demo)
    with app.app_context():
        entries = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action.in_(["interview.cancelled", "batch.finished"]))).all()
        assert entries and {e.ip for e in entries} == {IP}
        assert all(e.data.get("batch_id") for e in entries)


def test_a_job_acts_as_system_with_its_rule_in_the_data(app, demo):
    with app.app_context():
        target = db.session.scalar(select(Interview.id).where(
            Interview.status == InterviewStatus.SCHEDULED).order_by(Interview.id))
        db.session.execute(update(Interview).where(Interview.id == target)
                           .values(confirm_by=utcnow() - timedelta(minutes=5)))
        db.session.commit()
        assert system.auto_cancel_unconfirmed() == 1
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.object_id == target, AuditEntry.action == "interview.cancelled")).one()
    assert (entry.actor_type, entry.actor_id, entry.object_type) == ("system", None,
                                                                     "interview")
    assert entry.data["rule"] == "auto_cancel_unconfirmed" and entry.data["reason"]
    assert entry.data["before"] == {"status": "scheduled"}

"""The mobile console's pages do what the desktop console does, with the same services and
checks: 待我审批 lists the requests of the user's scope and decides them (同意 / 驳回 with a
reason) level by level; the interview page shows who was told and how far each message
got; 取消面试 needs a company-side reason; another department's interview is a 404, a role
without the permission a 403; every form needs its CSRF token; no inline script.
Users sign in through the real OAuth round trip (tests.factories.mobile_login)."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.core.timeutil import utcnow
from app.extensions import db
from app.models import (
    Cancellation,
    CancellationState,
    HrUser,
    Interview,
    InterviewStatus,
    OutboxMessage,
    OutboxStatus,
)
from app.services.cancellation import cancel_by_candidate
from tests.factories import CSRF_RE, bind_hr_wechat, mobile_login, outbox_message


def phone(app, username: str):
    """A test client signed in to the mobile console as this demo user, via WeChat."""
    client = app.test_client()
    r = mobile_login(client, bind_hr_wechat(app, username))
    assert r.status_code == 302, r.get_data(as_text=True)
    return client


def review_request(app, demo):
    """A candidate on the senior (two-level) position asks to cancel: (id, number,
    interview public id)."""
    cand = next(c for c in demo["candidates"] if c["position_review"])
    public_id = cand["interview_ids"][0]
    with app.app_context():
        outcome = cancel_by_candidate(candidate_id=cand["id"], interview_public_id=public_id,
                                      reason_code="found_other_job")
        db.session.remove()
    assert outcome.state == CancellationState.REQUESTED
    return outcome.cancellation_id, outcome.interview.number, public_id


def plain_interview(demo, department: str = "技术部") -> str:
    return next(c for c in demo["candidates"] if c["department"] == department
                and not c["position_review"])["interview_ids"][0]


def token_of(client, path: str) -> str:
    match = CSRF_RE.search(client.get(path).get_data(as_text=True))
    assert match, path
    return match.group(1)


def decide(client, request_id: int, action: str, comment: str = "", back: str | None = None):
    token = token_of(client, "/console/m/approvals")
    return client.post(f"/console/m/approvals/{request_id}/{action}",
                       data={"csrf_token": token, "comment": comment,
                             **({"back": back} if back else {})})


def request_state(app, request_id: int) -> CancellationState:
    with app.app_context():
        state = db.session.get(Cancellation, request_id).state
        db.session.remove()
    return state


def interview_status(app, public_id: str) -> InterviewStatus:
    with app.app_context():
        status = db.session.scalar(select(Interview.status)
                                   .where(Interview.public_id == public_id))
        db.session.remove()
    return status


def flashed(client, path: str) -> str:
    return client.get(path).get_data(as_text=True)


# --- 待我审批 --------------------------------------------------------------------------------

def test_the_queue_lists_the_requests_of_the_users_scope(app, demo):
    request_id, number, _ = review_request(app, demo)
    page = phone(app, "specialist").get("/console/m/approvals").get_data(as_text=True)
    card = re.search(rf'data-cancellation="{request_id}".*?</section>', page, re.S).group(0)
    assert number in card and "已找到其他工作" in card and "高级岗位 · 两级审批" in card
    assert "第1级：待审批；第2级：待审批" in card
    assert ">同意</button>" in card and ">驳回</button>" in card
    assert 'id="mine-count">1<' in page

    other = phone(app, "sales_specialist").get("/console/m/approvals").get_data(as_text=True)
    assert number not in other and "暂无待审批的取消申请" in other


def test_two_levels_are_approved_on_the_phone_by_two_users(app, demo):
    request_id, number, public_id = review_request(app, demo)
    specialist = phone(app, "specialist")
    r = decide(specialist, request_id, "approve", "已电话确认")
    assert r.status_code == 302 and r.headers["Location"] == "/console/m/approvals"
    page = flashed(specialist, "/console/m/approvals")
    assert f"已同意：{number}，等待二级审批" in page
    assert "第1级：已同意（已电话确认）；第2级：待审批" in page
    assert "等待二级审批（招聘经理或管理员" in page
    assert request_state(app, request_id) == CancellationState.REQUESTED

    # the specialist cannot decide level 2 by posting the form either
    r = decide(specialist, request_id, "approve")
    assert r.status_code == 403
    assert "二级审批需由招聘经理或管理员完成" in r.get_data(as_text=True)

    manager = phone(app, "manager")
    r = decide(manager, request_id, "approve", back=f"/console/m/interviews/{public_id}")
    assert r.headers["Location"] == f"/console/m/interviews/{public_id}"
    page = flashed(manager, r.headers["Location"])
    assert f"已同意：{number}" in page and "等待二级审批" not in page
    assert request_state(app, request_id) == CancellationState.EFFECTIVE
    assert interview_status(app, public_id) == InterviewStatus.CANCELLED
    assert number not in flashed(manager, "/console/m/approvals")


def test_rejecting_needs_a_reason(app, demo):
    request_id, number, public_id = review_request(app, demo)
    specialist = phone(app, "specialist")
    decide(specialist, request_id, "reject", "   ")
    assert "请填写意见" in flashed(specialist, "/console/m/approvals")
    assert request_state(app, request_id) == CancellationState.REQUESTED

    decide(specialist, request_id, "reject", "面试时间已为您保留，请按时参加")
    assert f"已驳回：{number}" in flashed(specialist, "/console/m/approvals")
    assert request_state(app, request_id) == CancellationState.REJECTED
    assert interview_status(app, public_id) != InterviewStatus.CANCELLED


def test_an_over_long_comment_or_note_is_refused_in_chinese(app, demo):
    request_id, _, public_id = review_request(app, demo)
    specialist = phone(app, "specialist")
    r = decide(specialist, request_id, "reject", "长" * 501)
    assert r.status_code == 302
    assert "审批意见最多500个字" in flashed(specialist, r.headers["Location"])
    assert request_state(app, request_id) == CancellationState.REQUESTED
    other = plain_interview(demo)
    r = cancel(specialist, other, reason_code="position_paused", note="长" * 1001)
    assert r.status_code == 302
    assert "说明最多1000个字" in flashed(specialist, r.headers["Location"])
    assert interview_status(app, other) != InterviewStatus.CANCELLED


@pytest.mark.parametrize(("username", "status"), [("sales_specialist", 404),
                                                   ("interviewer", 403)])
def test_a_decision_outside_scope_or_role_is_refused(app, demo, username, status):
    request_id, _, _ = review_request(app, demo)
    client = phone(app, username)
    for action in ("approve", "reject"):
        assert decide(client, request_id, action, "理由").status_code == status
    assert request_state(app, request_id) == CancellationState.REQUESTED


def test_only_approve_and_reject_are_offered(app, demo):
    request_id, _, _ = review_request(app, demo)
    r = decide(phone(app, "specialist"), request_id, "ask-detail", "请补充")
    assert r.status_code == 404
    assert request_state(app, request_id) == CancellationState.REQUESTED


# --- the interview page ------------------------------------------------------------------------

def test_the_interview_page_shows_who_was_told_and_how_far(app, demo):
    public_id = plain_interview(demo)
    with app.app_context():
        iv = db.session.scalar(select(Interview).where(Interview.public_id == public_id))
        iv_id, cand_id = iv.id, iv.candidate_id
        manager_id = db.session.scalar(select(HrUser.id).where(HrUser.username == "manager"))
        db.session.remove()
    sent = utcnow() - timedelta(minutes=5)
    outbox_message(app, iv_id, status=OutboxStatus.READ, recipient_id=cand_id, sent_at=sent,
                   delivered_at=sent + timedelta(seconds=3), read_at=sent + timedelta(minutes=2))
    outbox_message(app, iv_id, status=OutboxStatus.FAILED, recipient_type="hr_user",
                   recipient_id=manager_id, channel="oa_template", errcode=43004,
                   last_error="require subscribe")
    page = phone(app, "specialist").get(f"/console/m/interviews/{public_id}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    chunks = body.split('<li class="m-card m-message" data-status="')[1:]
    messages = [chunk.split('"', 1) for chunk in chunks]
    assert sorted(status for status, _ in messages) == ["failed", "read"]
    by_status = dict(messages)
    assert "候选人" in by_status["read"] and "小程序订阅消息" in by_status["read"]
    assert by_status["read"].count('class="done"') == 3  # sent, delivered, read
    assert "李经理" in by_status["failed"] and "公众号模板消息" in by_status["failed"]
    assert "错误码 43004" in by_status["failed"] and 'class="done"' not in by_status["failed"]


@pytest.mark.parametrize("public_id", ["other-department", "iv_does_not_exist", "1"])
def test_an_interview_outside_scope_is_not_found(app, demo, public_id):
    if public_id == "other-department":
        public_id = plain_interview(demo, "销售部")
    r = phone(app, "specialist").get(f"/console/m/interviews/{public_id}")
    assert r.status_code == 404
    assert "未找到该记录" in r.get_data(as_text=True)


def test_the_interview_page_decides_the_open_request(app, demo):
    request_id, number, public_id = review_request(app, demo)
    client = phone(app, "specialist")
    body = client.get(f"/console/m/interviews/{public_id}").get_data(as_text=True)
    assert f'data-cancellation="{request_id}"' in body and ">同意</button>" in body
    assert f'name="back" value="/console/m/interviews/{public_id}"' in body


# --- 取消面试 ------------------------------------------------------------------------------------

def cancel(client, public_id: str, **form):
    token = token_of(client, f"/console/m/interviews/{public_id}")
    return client.post(f"/console/m/interviews/{public_id}/cancel",
                       data={"csrf_token": token, **form})


def test_cancelling_needs_a_company_reason(app, demo):
    public_id = plain_interview(demo)
    client = phone(app, "specialist")
    for reason in ("", "found_other_job"):  # none, and a candidate-side one
        r = cancel(client, public_id, reason_code=reason, note="x")
        assert r.status_code == 302
        assert "请选择有效的取消原因" in flashed(client, r.headers["Location"])
    assert interview_status(app, public_id) != InterviewStatus.CANCELLED


def test_hr_cancels_with_a_reason_and_note_and_everyone_is_told(app, demo):
    public_id = plain_interview(demo)
    client = phone(app, "specialist")
    page = client.get(f"/console/m/interviews/{public_id}").get_data(as_text=True)
    assert 'id="cancel-form"' in page and "岗位暂停招聘" in page
    r = cancel(client, public_id, reason_code="position_paused", note="本季度暂停招聘",
               notify=["candidate", "recruiter", "hiring_manager", "interviewer"])
    assert r.headers["Location"] == f"/console/m/interviews/{public_id}"
    body = flashed(client, r.headers["Location"])
    assert "已取消面试" in body and "本季度暂停招聘" in body
    assert 'id="cancel-form"' not in body  # nothing left to cancel
    assert interview_status(app, public_id) == InterviewStatus.CANCELLED
    with app.app_context():
        iv_id = db.session.scalar(select(Interview.id).where(Interview.public_id == public_id))
        recipients = set(db.session.execute(
            select(OutboxMessage.recipient_type, OutboxMessage.kind)
            .where(OutboxMessage.interview_id == iv_id)).all())
        db.session.remove()
    assert any(kind for rtype, kind in recipients if rtype == "candidate"), recipients
    assert any(rtype != "candidate" for rtype, _ in recipients), recipients


def test_an_interviewer_cannot_cancel(app, demo):
    public_id = plain_interview(demo)
    client = phone(app, "interviewer")
    page = client.get(f"/console/m/interviews/{public_id}")
    assert page.status_code == 200 and 'id="cancel-form"' not in page.get_data(as_text=True)
    r = cancel(client, public_id, reason_code="position_paused")
    assert r.status_code == 403
    assert interview_status(app, public_id) != InterviewStatus.CANCELLED


# --- forms and headers ---------------------------------------------------------------------------

def test_every_form_needs_its_csrf_token(app, demo):
    request_id, _, public_id = review_request(app, demo)
    client = phone(app, "specialist")
    for path, data in ((f"/console/m/approvals/{request_id}/approve", {"comment": ""}),
                       (f"/console/m/interviews/{public_id}/cancel",
                        {"reason_code": "position_paused"})):
        r = client.post(path, data=data)
        assert r.status_code == 400
        assert 'data-error-code="csrf_invalid"' in r.get_data(as_text=True)
    assert request_state(app, request_id) == CancellationState.REQUESTED
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Cancellation)) == 1


def test_pages_carry_the_console_policy_and_no_inline_script_or_style(app, demo):
    _, _, public_id = review_request(app, demo)
    client = phone(app, "specialist")
    for path in ("/console/m/approvals", f"/console/m/interviews/{public_id}"):
        r = client.get(path)
        assert r.status_code == 200
        assert "default-src 'self'" in r.headers["Content-Security-Policy"]
        assert r.headers["Cache-Control"] == "no-store"
        body = r.get_data(as_text=True)
        assert "<script" not in body and " style=" not in body and "<style" not in body
        assert '<meta name="viewport"' in body

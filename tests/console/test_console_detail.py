"""Interview detail page."""
from __future__ import annotations

from datetime import timedelta

from app.core.timeutil import utcnow
from app.models import CancellationState, InterviewStatus, OutboxStatus, Role


def test_detail_shows_everything(hr_client, make_user, make_interview, make_message,
                                 make_cancellation, make_audit):
    manager_id = make_user(username="jingli", display_name="李经理",
                           role=Role.RECRUITING_MANAGER)
    iv = make_interview(status=InterviewStatus.CANCELLED)
    make_cancellation(iv.id, label="时间冲突", note="下周出差",
                      state=CancellationState.EFFECTIVE)
    make_message(iv.id, status=OutboxStatus.READ, sent_at=utcnow(),
                 delivered_at=utcnow(), read_at=utcnow())
    make_message(iv.id, status=OutboxStatus.FAILED, recipient_type="hr_user",
                 recipient_id=manager_id, channel="oa_template", errcode=43004,
                 last_error="require subscribe")
    now = utcnow()
    make_audit(iv.id, "interview.cancel_requested", at=now - timedelta(minutes=5),
               actor_type="candidate")
    make_audit(iv.id, "interview.cancelled", at=now, actor_type="hr", actor_id=manager_id,
               data={"reason": "时间冲突"})
    make_audit(iv.id + 1000, "interview.other_object")

    response = hr_client.get(f"/console/interviews/{iv.public_id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "AI-2026-11-22-001" in html and "张三" in html and "138****8000" in html
    assert "Java工程师" in html and "已取消" in html
    assert "时间冲突" in html and "下周出差" in html and "已生效" in html
    assert "已读" in html and "发送失败" in html
    assert "43004" in html and "require subscribe" in html
    assert "HR · 李经理" in html
    # the audit trail by its Chinese labels, never by action codes
    assert "取消面试" in html and "申请取消面试" in html
    assert "interview.cancelled" not in html and "interview.cancel_requested" not in html
    assert html.index(">取消面试</td>") < html.index(">申请取消面试</td>")
    assert "interview.other_object" not in html


def test_detail_without_related_rows(hr_client, make_interview):
    iv = make_interview()
    html = hr_client.get(f"/console/interviews/{iv.public_id}").get_data(as_text=True)
    assert "暂无取消记录" in html and "暂无通知" in html and "暂无操作记录" in html


def test_unknown_interview_is_404_in_chinese(hr_client, make_interview):
    make_interview()
    response = hr_client.get("/console/interviews/iv_not-a-real-id")
    assert response.status_code == 404
    assert "未找到该记录" in response.get_data(as_text=True)


def test_detail_uses_public_id_not_number_or_pk(hr_client, make_interview):
    iv = make_interview()
    assert hr_client.get(f"/console/interviews/{iv.id}").status_code == 404
    assert hr_client.get(f"/console/interviews/{iv.number}").status_code == 404


def test_every_role_can_view_in_its_scope(client, make_user, login, make_interview):
    """Interviewers see only their own interviews; the other roles their departments."""
    iv = make_interview()
    for i, role in enumerate(Role):
        make_user(username=f"user{i}", role=role)
        c = client.application.test_client()
        assert login(c, f"user{i}").status_code == 302
        assert c.get("/console/interviews").status_code == 200
        expected = 404 if role == Role.INTERVIEWER else 200
        assert c.get(f"/console/interviews/{iv.public_id}").status_code == expected

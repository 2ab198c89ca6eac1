"""HR text commands in the Official Account (issue 10 §4): each command allowed and refused
by role and department, through the console's services (their permission checks, scope
and audit entries); errors answer in Chinese. Messages go through the sandbox as WeChat
sends them (encrypted, signed)."""
from __future__ import annotations

import pytest
from oa_hr_helpers import entries, hr_phone, plain, review_request, state_of, status_of, user_named
from sqlalchemy import select

from app.extensions import db
from app.models import Cancellation, CancellationState, Interview, InterviewStatus

# --- 同意 / 驳回 -------------------------------------------------------------------------

APPROVE_CASES = [
    ("admin", "已同意（第1级）"),
    ("manager", "已同意（第1级）"),
    ("specialist", "已同意（第1级）"),
    ("interviewer", "您没有执行此操作的权限"),
    ("sales_specialist", "未找到面试"),      # another department: as if it did not exist
    ("sales_manager", "未找到面试"),
]


@pytest.mark.parametrize(("username", "answer"), APPROVE_CASES,
                         ids=[u for u, _ in APPROVE_CASES])
def test_approve_by_role_and_department(app, demo, live_url, username, answer):
    request_id, number = review_request(app, demo)
    reply = hr_phone(live_url, username).send(f"同意 {number}")
    assert answer in reply
    if answer.startswith("已同意"):
        assert number in reply and "等待二级审批" in reply
        [entry] = entries(app, "interview.cancel_level_approved")
        assert entry.actor_type == "hr" and entry.actor_id == user_named(app, username).id
    else:
        assert entries(app, "interview.cancel_level_approved") == []
    assert state_of(app, request_id) == CancellationState.REQUESTED


def test_the_second_level_needs_a_manager_other_than_the_first_approver(app, demo, live_url):
    request_id, number = review_request(app, demo)
    assert "等待二级审批" in hr_phone(live_url, "manager").send(f"同意 {number} 已核实")
    assert "二级审批需由招聘经理或管理员完成" in hr_phone(live_url, "specialist").send(
        f"同意 {number}")
    assert "二级审批须由另一位审批人完成" in hr_phone(live_url, "manager").send(f"同意 {number}")
    reply = hr_phone(live_url, "admin").send(f"同意 {number}")
    assert "已同意（第2级）" in reply and "面试已取消" in reply
    assert state_of(app, request_id) == CancellationState.EFFECTIVE
    assert "没有待审批的取消申请" in hr_phone(live_url, "admin").send(f"同意 {number}")


def test_reject_needs_a_reason_and_tells_the_candidate(app, demo, live_url):
    request_id, number = review_request(app, demo)
    phone = hr_phone(live_url, "specialist")
    assert "请发送“驳回 面试编号 原因”" in phone.send(f"驳回 {number}")
    reply = phone.send(f"驳回 {number} 面试时间无法再调整")
    assert "已驳回" in reply and number in reply
    assert state_of(app, request_id) == CancellationState.REJECTED
    [entry] = entries(app, "interview.cancel_rejected")
    assert entry.actor_id == user_named(app, "specialist").id


@pytest.mark.parametrize("username", ["interviewer", "sales_manager"])
def test_reject_is_refused_outside_role_or_scope(app, demo, live_url, username):
    request_id, number = review_request(app, demo)
    reply = hr_phone(live_url, username).send(f"驳回 {number} 不同意")
    assert "您没有执行此操作的权限" in reply or "未找到面试" in reply
    assert state_of(app, request_id) == CancellationState.REQUESTED


def test_approve_without_a_number_explains_the_command(app, demo, live_url):
    assert "请发送“同意 面试编号”" in hr_phone(live_url, "manager").send("同意")
    assert "未找到面试 AI-2099-01-01-001" in hr_phone(live_url, "manager").send(
        "同意 AI-2099-01-01-001")


# --- 取消 -------------------------------------------------------------------------------

CANCEL_CASES = [
    ("admin", "岗位已招满", True),
    ("manager", "position_filled", True),       # by code
    ("specialist", "岗位已招满", True),           # by label
    ("interviewer", "岗位已招满", False),         # read-only role
    ("sales_specialist", "岗位已招满", False),    # another department
]


@pytest.mark.parametrize(("username", "reason", "allowed"), CANCEL_CASES,
                         ids=[c[0] for c in CANCEL_CASES])
def test_cancel_by_role_and_department(app, demo, live_url, username, reason, allowed):
    public_id, number = plain(app, demo)
    reply = hr_phone(live_url, username).send(f"取消 {number} {reason} 岗位本周已满员")
    if allowed:
        assert f"已取消面试 {number}" in reply and "岗位已招满" in reply
        assert status_of(app, public_id) == InterviewStatus.CANCELLED
        [entry] = entries(app, "interview.cancelled")
        assert entry.actor_type == "hr" and entry.actor_id == user_named(app, username).id
        with app.app_context():
            c = db.session.scalars(select(Cancellation)).one()
            assert c.note == "岗位本周已满员" and c.actor_type == "hr"
    else:
        assert "您没有执行此操作的权限" in reply or "未找到面试" in reply
        assert status_of(app, public_id) == InterviewStatus.SCHEDULED
        assert entries(app, "interview.cancelled") == []


def test_cancel_with_an_unknown_or_candidate_side_reason_lists_the_company_reasons(
        app, demo, live_url):
    public_id, number = plain(app, demo)
    phone = hr_phone(live_url, "manager")
    for reason in ("天气不好", "found_other_job"):
        reply = phone.send(f"取消 {number} {reason}")
        assert f"未知的取消原因“{reason}”" in reply and "岗位已招满" in reply
    assert "请发送“取消 面试编号 原因 [说明]”" in phone.send(f"取消 {number}")
    assert status_of(app, public_id) == InterviewStatus.SCHEDULED


def test_cancelling_twice_says_it_is_already_cancelled(app, demo, live_url):
    public_id, number = plain(app, demo)
    phone = hr_phone(live_url, "manager")
    assert "已取消面试" in phone.send(f"取消 {number} 岗位已招满")
    again = phone.send(f"取消 {number} 岗位已招满")
    assert "已取消" in again and "已取消面试" not in again
    assert len(entries(app, "interview.cancelled")) == 1


# --- 查询 / 帮助 ---------------------------------------------------------------------------

def test_query_by_number_or_name_in_scope(app, demo, live_url):
    public_id, number = plain(app, demo)
    with app.app_context():
        name = db.session.scalar(select(Interview).where(
            Interview.public_id == public_id)).candidate.name
    phone = hr_phone(live_url, "specialist")
    reply = phone.send(f"查询 {number}")
    assert number in reply and name in reply and "待确认" in reply
    assert number in phone.send(f"查询 {name}")
    assert "没有找到" in hr_phone(live_url, "sales_specialist").send(f"查询 {number}")
    assert "请发送“查询 面试编号或姓名”" in phone.send("查询")


def test_help_and_unknown_text_list_the_commands(app, demo, live_url):
    phone = hr_phone(live_url, "specialist")
    help_text = phone.send("帮助")
    for command in ("同意 面试编号", "驳回 面试编号 原因", "取消 面试编号 原因", "查询", "解绑"):
        assert command in help_text
    unknown = phone.send("你好")
    assert unknown.startswith("未识别的指令") and "同意 面试编号" in unknown


# --- reading the text ---------------------------------------------------------------------

@pytest.mark.parametrize(("text", "word", "rest"), [
    ("同意 AI-2026-12-03-001", "同意", "AI-2026-12-03-001"),
    ("  驳回\u3000AI-2026-12-03-001   时间 不能改 ", "驳回", "AI-2026-12-03-001 时间 不能改"),
    ("绑定ABCD2345", "绑定", "ABCD2345"),
    ("绑定 abcd-2345", "绑定", "abcd-2345"),
    ("取消面试可以吗", None, "取消面试可以吗"),      # a candidate's sentence, not a command
    ("帮助", "帮助", ""),
    ("请问帮助在哪", None, "请问帮助在哪"),
])
def test_a_command_word_stands_alone_except_binding(text, word, rest):
    from wechat_handlers.hr.commands import parse

    assert parse(text) == (word, rest)

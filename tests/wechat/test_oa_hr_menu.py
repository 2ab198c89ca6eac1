"""The Official Account menu (issue 10 §4): defined in code, checked against WeChat's
limits and pushed by `flask wechat sync-menu`; each click key answers short Chinese text
for the bound user's scope (through the sandbox, encrypted as WeChat sends it)."""
from __future__ import annotations

import copy

import pytest
import requests
from oa_hr_helpers import hr_phone, phone_of, plain, review_request
from sqlalchemy import select

from app.extensions import db
from app.models import HrUser
from app.services.cancellation import cancel_by_candidate, cancel_by_hr
from app.services.users.actor import Actor
from wechat_handlers import menu


def _menu(app):
    return menu.build(app.config["PUBLIC_BASE_URL"], app.config["WECHAT_MP_APPID"])


def test_the_menu_in_code_keeps_wechats_limits(app):
    body = _menu(app)
    assert menu.validate(body) == []
    [hr] = [b for b in body["button"] if b["name"] == "HR工作台"]
    names = [b["name"] for b in hr["sub_button"]]
    assert names == ["待我审批", "今日取消", "取消统计", "移动后台"]
    mobile = hr["sub_button"][3]
    assert mobile["type"] == "view" and mobile["url"].endswith("/console/m/")
    assert mobile["url"].startswith(app.config["PUBLIC_BASE_URL"])


@pytest.mark.parametrize(("change", "problem"), [
    (lambda m: m["button"].extend([{"type": "click", "name": "甲", "key": "A"}] * 2),
     "1-3 top-level"),
    (lambda m: m["button"][0]["sub_button"].extend(
        [{"type": "click", "name": "乙", "key": "B"}] * 2), "1-5 sub-buttons"),
    (lambda m: m["button"][0].update(name="一二三四五六"), "name must be 1-16 bytes"),  # 18 bytes
    (lambda m: m["button"][0]["sub_button"][0].update(key="k" * 129), "key must be"),
    (lambda m: m["button"][0]["sub_button"][3].update(url="ftp://x"), "url must be"),
    (lambda m: m.update(button=[]), "1-3 top-level"),
])
def test_a_menu_breaking_the_limits_is_refused(app, change, problem):
    body = copy.deepcopy(_menu(app))
    change(body)
    assert any(problem in p for p in menu.validate(body)), menu.validate(body)


def test_sync_menu_pushes_the_menu_to_wechat(app, runner, live_url):
    result = runner.invoke(args=["wechat", "sync-menu"])
    assert result.exit_code == 0, result.output
    assert "menu synced: HR工作台, 我的面试" in result.output
    shown = requests.get(f"{live_url}/_sandbox/wechat/menu", timeout=5).json()
    text = str(shown)
    for name in ("待我审批", "今日取消", "取消统计", "移动后台", menu.KEY_PENDING):
        assert name in text


def test_sync_menu_dry_run_sends_nothing(app, runner, live_url):
    result = runner.invoke(args=["wechat", "sync-menu", "--dry-run"])
    assert result.exit_code == 0 and menu.KEY_STATS in result.output
    shown = requests.get(f"{live_url}/_sandbox/wechat/menu", timeout=5).json()
    assert menu.KEY_STATS not in str(shown)


# --- clicks ----------------------------------------------------------------------------

def test_pending_lists_the_requests_this_user_may_decide(app, demo, live_url):
    _, number = review_request(app, demo)
    reply = hr_phone(live_url, "specialist").click(menu.KEY_PENDING)
    assert reply.startswith("待我审批：1 条") and number in reply and "同意 面试编号" in reply
    assert hr_phone(live_url, "sales_manager").click(menu.KEY_PENDING) == \
        "目前没有等待您审批的取消申请。"
    assert "没有等待您审批" in hr_phone(live_url, "interviewer").click(menu.KEY_PENDING)


def test_today_counts_the_cancellations_in_the_users_scope(app, demo, live_url):
    public_id, number = plain(app, demo)
    review_request(app, demo)
    cand = next(c for c in demo["candidates"] if c["department"] == "技术部"
                and not c["position_review"] and c["interview_ids"][0] != public_id)
    with app.app_context():
        cancel_by_candidate(candidate_id=cand["id"], interview_public_id=cand["interview_ids"][0],
                            reason_code="found_other_job")
        manager = db.session.scalars(select(HrUser).where(HrUser.username == "manager")).one()
        cancel_by_hr(Actor.hr(manager), public_id, reason_code="position_filled")
        db.session.remove()
    reply = hr_phone(live_url, "manager").click(menu.KEY_TODAY)
    assert "取消 2 场" in reply and "候选人1" in reply and "公司1" in reply
    assert "岗位已招满1" in reply and "待审批的取消申请：1 条" in reply
    other = hr_phone(live_url, "sales_manager").click(menu.KEY_TODAY)
    assert "暂无取消的面试" in other and "待审批的取消申请：0 条" in other


def test_stats_needs_the_reports_permission(app, demo, live_url):
    public_id, _ = plain(app, demo)
    with app.app_context():
        admin = db.session.scalars(select(HrUser).where(HrUser.username == "admin")).one()
        cancel_by_hr(Actor.hr(admin), public_id, reason_code="position_filled")
        db.session.remove()
    reply = hr_phone(live_url, "manager").click(menu.KEY_STATS)
    assert reply.startswith("近7天") and "取消 1 场" in reply and "岗位已招满1" in reply
    assert "没有取消的面试" in hr_phone(live_url, "sales_manager").click(menu.KEY_STATS)
    assert hr_phone(live_url, "interviewer").click(menu.KEY_STATS) == \
        "您的角色没有查看取消统计的权限。"


def test_a_click_on_a_key_of_no_hr_button_gets_no_reply(app, demo, live_url):
    assert hr_phone(live_url, "manager").click("SOMETHING_ELSE") is None
    assert phone_of(live_url, "oa-stranger").click("SOMETHING_ELSE") is None


def test_opening_the_mobile_console_from_the_menu_needs_no_reply(app, demo, live_url):
    base = app.config["PUBLIC_BASE_URL"].rstrip("/")
    answer = hr_phone(live_url, "manager")._do("view", key=base + menu.MOBILE_CONSOLE_PATH)
    assert answer["callback_status"] == 200 and answer["reply"] is None

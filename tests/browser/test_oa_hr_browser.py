"""微信绑定 and 候选人反馈 in a real browser at phone and desktop widths: the code and QR code
show without console errors (CSP holds: the QR code is inline SVG), the user binds by
sending the code, and a candidate's Official Account message is answered from the page."""
from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from tests import factories
from tests.browser.test_console_hr import assert_no_console_errors, console_login, shot

WIDTHS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}


@pytest.fixture
def page_at(chromium):
    contexts = []

    def open_page(width: str):
        context = chromium.new_context(viewport=WIDTHS[width], locale="zh-CN",
                                       timezone_id="Asia/Shanghai")
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.console_errors = []
        page.on("console", lambda msg: page.console_errors.append(msg.text)
                if msg.type == "error" else None)
        page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))
        return page

    yield open_page
    for context in contexts:
        context.close()


def _inbound(live_url, openid, **body) -> dict:
    r = requests.post(f"{live_url}/_sandbox/wechat/oa/inbound",
                      json={"openid": openid, **body}, timeout=15)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("width", WIDTHS)
def test_an_hr_user_binds_their_wechat_from_the_binding_page(app, demo, live_url, page_at,
                                                            artifacts_dir, width):
    page = page_at(width)
    console_login(page, live_url, "specialist", demo["password"])
    page.get_by_role("link", name="微信绑定").click()
    expect(page.get_by_role("heading", name="微信绑定")).to_be_visible()
    page.get_by_role("button", name="生成绑定码").click()
    code = re.search(r"绑定 ([A-Z2-9]{8})", page.locator("code").inner_text()).group(1)
    expect(page.locator(".qr svg")).to_be_visible()
    box = page.locator(".qr svg").bounding_box()
    assert box["width"] >= 120 and box["x"] + box["width"] <= WIDTHS[width]["width"]
    shot(page, artifacts_dir, f"oa-hr-binding-code-{width}.png")
    requests.post(f"{live_url}/_sandbox/wechat/followers", json={"openid": "oa-new-phone"},
                  timeout=5)
    assert "绑定成功" in _inbound(live_url, "oa-new-phone", action="text",
                                content=f"绑定 {code}")["reply"]
    page.goto(f"{live_url}/console/wechat-binding")
    expect(page.get_by_text("已绑定")).to_be_visible()
    assert_no_console_errors(page)


@pytest.mark.parametrize("width", WIDTHS)
def test_hr_answers_a_candidates_message_from_the_feedback_page(app, demo, live_url, page_at,
                                                               artifacts_dir, width):
    from app.models import WechatApp

    cand = next(c for c in demo["candidates"] if c["department"] == "技术部"
                and not c["position_review"])
    factories.wechat_account(app, "oa-cand", wechat_app=WechatApp.OFFICIAL_ACCOUNT,
                             unionid=f"sandbox-union-{cand['openid']}", followed=True)
    requests.post(f"{live_url}/_sandbox/wechat/followers", json={"openid": "oa-cand"},
                  timeout=5)
    assert "已收到您的留言" in _inbound(live_url, "oa-cand", action="text",
                                   content="请问可以改到下午吗？")["reply"]
    page = page_at(width)
    console_login(page, live_url, "manager", demo["password"])
    page.goto(f"{live_url}/console/feedback")
    expect(page.get_by_text("请问可以改到下午吗？")).to_be_visible()
    page.get_by_label("回复").first.fill("可以，已为您改到下午三点。")
    shot(page, artifacts_dir, f"oa-hr-feedback-{width}.png")
    page.get_by_role("button", name="回复").click()
    expect(page.get_by_text("已通过公众号客服消息回复候选人")).to_be_visible()
    sent = [m for m in requests.get(f"{live_url}/_sandbox/wechat/messages",
                                    params={"touser": "oa-cand"}, timeout=5).json()["items"]
            if m["api"] == "custom_send"]
    assert [m["content"] for m in sent] == ["可以，已为您改到下午三点。"]
    assert_no_console_errors(page)


def test_the_sandbox_oa_phone_talks_to_the_callback(app, demo, live_url, runner, page_at):
    assert runner.invoke(args=["wechat", "sync-menu"]).exit_code == 0
    page = page_at("phone")
    page.goto(f"{live_url}/_sandbox/wechat/oa/phone")
    page.locator("#openid").fill("sandbox-hr-manager")
    page.locator("#text").fill("帮助")
    page.get_by_role("button", name="发送").click()
    expect(page.locator(".msg.oa").last).to_contain_text("同意 面试编号")
    page.get_by_role("button", name="HR工作台").click()
    page.get_by_role("button", name="今日取消").click()
    expect(page.locator(".msg.oa").last).to_contain_text("待审批的取消申请")
    assert_no_console_errors(page)

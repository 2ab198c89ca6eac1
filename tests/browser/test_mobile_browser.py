"""The mobile console in a phone browser, signed in through WeChat's OAuth redirect in the
sandbox: a candidate's request on the senior position is approved at level 1 by the
specialist and at level 2 by the manager, each opening the page from WeChat (entry ->
the sandbox's authorize page -> callback -> the page); the candidate's 已通过 message then
appears in the sandbox. An unbound WeChat user gets the binding instructions. Pages are
shot at 390 and 1280 px (test-artifacts/mobile-*.png) and run without console errors
(a CSP violation is one)."""
from __future__ import annotations

import re

import pytest

from tests.browser.test_console_hr import (
    MiniProgramUser,
    assert_no_console_errors,
    drain,
    review_candidate,
    values,
)
from tests.factories import bind_hr_wechat

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE_390 = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
             "is_mobile": True, "has_touch": True, "locale": "zh-CN",
             "timezone_id": "Asia/Shanghai"}
DESKTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "zh-CN",
           "timezone_id": "Asia/Shanghai"}


@pytest.fixture
def browser_page(chromium):
    """browser_page(options) -> a fresh page with its own cookies; console errors and
    uncaught page errors are collected on page.console_errors."""
    contexts = []

    def open_page(options=PHONE_390):
        context = chromium.new_context(**options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.console_errors = []
        page.on("console", lambda msg: page.console_errors.append(
            f"console.{msg.type}: {msg.text}") if msg.type == "error" else None)
        page.on("pageerror", lambda exc: page.console_errors.append(f"pageerror: {exc}"))
        return page

    yield open_page
    for context in contexts:
        context.close()


def open_from_wechat(page, live_url: str, path: str, openid: str) -> None:
    """Open a mobile console page as WeChat's user `openid`: no session yet, so through
    the entry and the sandbox's authorize page, where the user is picked."""
    page.goto(live_url + path)
    page.wait_for_url(re.compile(r"/_sandbox/wechat/connect/oauth2/authorize"))
    page.get_by_role("link", name=openid, exact=True).click()
    page.wait_for_url(re.compile(re.escape(path) + "$"))


def shot(page, artifacts_dir, name: str) -> None:
    page.screenshot(path=str(artifacts_dir / name), full_page=True, animations="disabled")


def test_a_request_is_approved_on_the_phone_and_the_candidate_is_told(
        app, demo, sandbox, live_url, browser_page, artifacts_dir):
    from playwright.sync_api import expect

    from app.services.cancellation import cancel_by_candidate

    cand = review_candidate(demo)
    public_id = cand["interview_ids"][0]
    MiniProgramUser(live_url, sandbox, cand["openid"]).accept_subscriptions(times=2)
    with app.app_context():
        outcome = cancel_by_candidate(candidate_id=cand["id"], interview_public_id=public_id,
                                      reason_code="found_other_job")
        request_id, number = outcome.cancellation_id, outcome.interview.number
    drain(app)
    assert [values(m)["phrase3"] for m in sandbox.messages(touser=cand["openid"])] == ["审核中"]
    specialist_openid = bind_hr_wechat(app, "specialist")
    manager_openid = bind_hr_wechat(app, "manager")

    # level 1: the specialist opens 待我审批 from the Official Account
    page = browser_page()
    open_from_wechat(page, live_url, "/console/m/approvals", specialist_openid)
    expect(page.get_by_role("heading", name="待我审批")).to_be_visible()
    card = page.locator(f'section.m-request[data-cancellation="{request_id}"]')
    expect(card).to_contain_text(number)
    expect(card).to_contain_text("已找到其他工作")
    expect(card).to_contain_text("第1级：待审批；第2级：待审批")
    shot(page, artifacts_dir, "mobile-approvals-390.png")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways at 390 px ({width} px)"
    card.get_by_label("审批意见（驳回时必填）").fill("同意，已与候选人电话确认")
    card.get_by_role("button", name="同意").click()
    expect(page.locator(".m-flash.flash-success")).to_contain_text(f"已同意：{number}，等待二级审批")
    expect(card).to_contain_text("第1级：已同意（同意，已与候选人电话确认）；第2级：待审批")
    expect(card.get_by_role("button", name="同意")).to_have_count(0)

    # level 2: the manager opens the interview page (the link of an OA message)
    manager = browser_page()
    open_from_wechat(manager, live_url, f"/console/m/interviews/{public_id}", manager_openid)
    expect(manager.get_by_role("heading", name=re.compile(number))).to_contain_text("取消审批中")
    request = manager.locator(f'section.m-request[data-cancellation="{request_id}"]')
    expect(request).to_contain_text("第1级：已同意")
    shot(manager, artifacts_dir, "mobile-interview-390.png")
    assert manager.evaluate("document.documentElement.scrollWidth") <= 390
    request.get_by_role("button", name="同意").click()
    expect(manager.locator(".m-flash.flash-success")).to_contain_text(f"已同意：{number}")
    expect(manager.get_by_role("heading", name=re.compile(number))).to_contain_text("已取消")
    expect(manager.locator(f'[data-cancellation="{request_id}"]')).to_have_count(0)

    drain(app)
    sent = sandbox.messages(touser=cand["openid"])
    assert [values(m)["phrase3"] for m in sent] == ["审核中", "已通过"], sent
    assert sent[1]["template_id"] == app.config["WECHAT_TPL_CANCEL_REQUEST"]
    assert values(sent[1])["thing4"] == "面试已取消"

    manager.reload()  # who was told, and how far each message got
    messages = manager.locator("li.m-message")
    expect(messages.filter(has_text="面试取消申请已通过")).to_contain_text("候选人")
    expect(messages.filter(has_text="面试取消申请已通过")).to_contain_text("小程序订阅消息")
    shot(manager, artifacts_dir, "mobile-interview-cancelled-390.png")

    # the same pages at desktop width
    desktop = browser_page(DESKTOP)
    open_from_wechat(desktop, live_url, f"/console/m/interviews/{public_id}", manager_openid)
    expect(desktop.get_by_role("heading", name=re.compile(number))).to_be_visible()
    shot(desktop, artifacts_dir, "mobile-interview-1280.png")
    desktop.goto(live_url + "/console/m/approvals")
    shot(desktop, artifacts_dir, "mobile-approvals-1280.png")
    assert_no_console_errors(page, manager, desktop)


def test_an_unbound_wechat_user_is_told_how_to_bind(
        app, demo, sandbox, live_url, browser_page, artifacts_dir):
    from playwright.sync_api import expect

    review = review_candidate(demo)
    sandbox.post("followers", openid="oa-openid-stranger")
    page = browser_page()
    open_path = "/console/m/approvals"
    page.goto(live_url + open_path)
    page.wait_for_url(re.compile(r"/_sandbox/wechat/connect/oauth2/authorize"))
    page.get_by_label("或输入公众号 openid").fill("oa-openid-stranger")
    page.get_by_role("button", name="以此身份授权").click()
    expect(page.get_by_role("heading", name="您的微信尚未绑定后台账号")).to_be_visible()
    expect(page.locator("main")).to_contain_text("绑定 绑定码")
    expect(page.locator("main")).to_contain_text("微信绑定")
    expect(page.locator("main")).not_to_contain_text(review["name"])
    shot(page, artifacts_dir, "mobile-unbound-390.png")
    # still no session: WeChat (remembering the user) brings the same answer, never the page
    page.goto(live_url + open_path)
    expect(page.get_by_role("heading", name="您的微信尚未绑定后台账号")).to_be_visible()
    assert "/console/m/oauth/callback" in page.url
    # the page itself answers 403 (Chrome logs that); nothing else may fail
    assert page.console_errors == ["console.error: Failed to load resource: the server "
                                   "responded with a status of 403 (FORBIDDEN)"] * 2


def test_hr_cancels_an_interview_on_the_phone_with_a_reason(
        app, demo, sandbox, live_url, browser_page, artifacts_dir):
    from playwright.sync_api import expect

    cand = next(c for c in demo["candidates"]
                if c["department"] == "技术部" and not c["position_review"])
    public_id = cand["interview_ids"][0]
    MiniProgramUser(live_url, sandbox, cand["openid"]).accept_subscriptions()
    page = browser_page()
    open_from_wechat(page, live_url, f"/console/m/interviews/{public_id}",
                     bind_hr_wechat(app, "specialist"))
    form = page.locator("#cancel-form")
    expect(form.get_by_label("候选人", exact=True)).to_be_checked()
    form.get_by_role("button", name="确认取消面试").click()  # no reason: the browser asks
    expect(page.locator(".m-flash")).to_have_count(0)
    form.get_by_label("取消原因（必选）").select_option(label="岗位暂停招聘")
    form.get_by_label("说明").fill("该岗位本季度暂停招聘，给您带来不便敬请谅解")
    shot(page, artifacts_dir, "mobile-cancel-form-390.png")
    form.get_by_role("button", name="确认取消面试").click()
    expect(page.locator(".m-flash.flash-success")).to_contain_text("已取消面试")
    expect(page.locator("h1")).to_contain_text("已取消")
    expect(page.locator("main")).to_contain_text("公司取消（张专员）")
    expect(page.locator("#cancel-form")).to_have_count(0)

    drain(app)
    sent = sandbox.messages(touser=cand["openid"])
    assert [m["api"] for m in sent] == ["subscribe_send"], sent
    assert values(sent[0])["thing3"] == "岗位暂停招聘"
    page.reload()
    expect(page.locator("li.m-message").filter(has_text="候选人").first).to_contain_text("已发送")
    shot(page, artifacts_dir, "mobile-cancelled-by-hr-390.png")
    assert_no_console_errors(page)

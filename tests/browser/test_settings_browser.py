"""Settings in a browser: an admin edits a cancel reason and a rule in Chromium and sees
the effect (the console's cancel dialog and the mini program's picker offer the new label;
the rescheduling deadline and the candidate's cancel button follow the new rules). Every
settings page is screenshotted on a phone (390 px) and a desktop (1280 px), without
console errors."""
from __future__ import annotations

import re
from datetime import date

import pytest
import requests

from app.core.timeutil import SHANGHAI, utcnow
from tests.factories import API, mp_token

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DESKTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "zh-CN",
           "timezone_id": "Asia/Shanghai"}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True, "locale": "zh-CN",
         "timezone_id": "Asia/Shanghai"}
PAGES = ["/console/settings", "/console/settings/reasons", "/console/settings/rules",
         "/console/settings/calendar?year=2027", "/console/settings/templates"]


def _open(chromium, options):
    context = chromium.new_context(**options)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda msg: page.console_errors.append(f"{msg.type}: {msg.text}")
            if msg.type == "error" else None)
    page.on("pageerror", lambda exc: page.console_errors.append(f"pageerror: {exc}"))
    return context, page


def _login(page, live_url, password):
    page.goto(live_url + "/console/login")
    page.locator("#username").fill("admin")
    page.locator("#password").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"/console/interviews"))


def _picker(live_url, openid):
    token = mp_token(live_url, openid)
    r = requests.get(f"{live_url}{API}/cancel-reasons", timeout=10,
                     headers={"Authorization": f"Bearer {token}"})
    return {i["code"]: i["label"] for i in r.json()["items"]}


def test_admin_edits_a_reason_and_a_rule_and_sees_the_effect(app, demo, live_url, chromium,
                                                              artifacts_dir):
    from playwright.sync_api import expect

    context, page = _open(chromium, DESKTOP)
    try:
        _login(page, live_url, demo["password"])
        page.get_by_role("link", name="系统设置").click()
        page.get_by_role("link", name=re.compile("取消原因")).click()
        expect(page.get_by_role("heading", name="取消原因", exact=True)).to_be_visible()

        # a reason: the candidate's 时间冲突 becomes 面试时间冲突
        row = page.locator('tr[data-code="time_conflict"]')
        row.get_by_role("link", name="编辑").click()
        expect(page.get_by_role("heading", name="编辑取消原因")).to_be_visible()
        page.locator("#label").fill("面试时间冲突")
        page.get_by_role("button", name="保存").click()
        expect(page.locator(".flash-success")).to_contain_text("已保存取消原因“面试时间冲突”")
        expect(page.locator('tr[data-code="time_conflict"]')).to_contain_text("面试时间冲突")
        assert _picker(live_url, demo["candidates"][0]["openid"])["time_conflict"] == \
            "面试时间冲突"

        # a bad code when adding is refused beside its field
        page.locator("#code").fill("Bad Code")
        page.locator("#label").fill("测试")
        page.locator("#category").select_option("other")
        page.get_by_label("公司", exact=True).check()
        page.get_by_role("button", name="添加").click()
        expect(page.locator("#code-error")).to_contain_text("原因代码只能由小写英文字母")
        expect(page.locator("#code-error")).to_have_attribute("data-code", "code_invalid")

        # retire a company reason: HR's cancel dialog no longer offers it
        paused = page.locator('tr[data-code="position_paused"]')
        paused.get_by_role("button", name="停用").click()
        expect(page.locator(".flash-success")).to_contain_text("已停用")
        public_id = demo["candidates"][0]["interview_ids"][0]
        page.goto(f"{live_url}/console/interviews/{public_id}")
        options = page.locator("#reason_code option").all_inner_texts()
        assert "岗位暂停招聘" not in options and "岗位已招满" in options

        # a rule: the rescheduling window 3 -> 5 working days, seen on the calendar page
        page.goto(f"{live_url}/console/settings/rules")
        page.locator("#reschedule_window_working_days").fill("5")
        page.locator("#cancel_deadline_hours").fill("168")
        page.get_by_role("button", name="保存规则").click()
        expect(page.locator(".flash-success")).to_contain_text("规则已保存，立即生效")
        expect(page.locator("#reschedule_window_working_days")).to_have_value("5")
        page.goto(f"{live_url}/console/settings/calendar")
        with app.app_context():
            from app.services.cancellation.commands import reschedule_deadline
            from app.services.rules import get_rules

            expected = reschedule_deadline(utcnow(), get_rules()).astimezone(SHANGHAI).date()
        expect(page.locator("#deadline-preview")).to_contain_text(expected.isoformat())
        expect(page.locator("#deadline-preview")).to_contain_text("5个工作日")
        # and the candidate can no longer cancel an interview starting within a week
        token = mp_token(live_url, demo["candidates"][0]["openid"])
        items = requests.get(f"{live_url}{API}/interviews", timeout=10,
                             headers={"Authorization": f"Bearer {token}"}).json()["items"]
        assert items[0]["can_cancel"] is False

        # a bad rule value: the Chinese error beside the field, nothing saved
        page.goto(f"{live_url}/console/settings/rules")
        page.locator("#notify_promise_minutes").fill("2")
        page.get_by_role("button", name="保存规则").click()
        expect(page.locator("#notify_promise_minutes-error")).to_contain_text("5 到 1440")
        page.goto(f"{live_url}/console/settings/rules")
        expect(page.locator("#notify_promise_minutes")).to_have_value("60")
        # (the refused forms answer 422, which Chromium logs as a failed resource load)
        errors = [e for e in page.console_errors if "status of 422" not in e]
        assert errors == []
    finally:
        context.close()


def test_settings_pages_on_a_phone_and_a_desktop(app, demo, live_url, chromium,
                                                 artifacts_dir):
    with app.app_context():
        from app.services.rules.calendar import set_override

        set_override(date(2027, 1, 1), False, "元旦", None)
    for name, options in (("phone", PHONE), ("desktop", DESKTOP)):
        context, page = _open(chromium, options)
        try:
            _login(page, live_url, demo["password"])
            for path in PAGES:
                page.goto(live_url + path)
                assert page.locator("h1").count() == 1
                # nothing wider than the screen
                overflow = page.evaluate(
                    "document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 1, (name, path, overflow)
                slug = path.strip("/").split("?")[0].replace("/", "-")
                page.screenshot(path=str(artifacts_dir / f"{slug}-{name}.png"), full_page=True,
                                animations="disabled")
            assert page.console_errors == [], (name, page.console_errors)
        finally:
            context.close()

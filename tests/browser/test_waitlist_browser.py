"""候补名单 in a browser at 1280 and 390 px: a specialist adds two candidates, moves the
second up with the buttons, the order on the page follows; no console error (the CSP
reports inline scripts or styles), and at phone width nothing scrolls sideways; the
重新安排承诺 report tab draws its gauge."""
from __future__ import annotations

import re

import pytest

from app.models import Role
from tests import factories
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.mark.parametrize("size", sorted(SIZES))
def test_a_specialist_orders_the_waiting_list_in_the_browser(app, live_url, chromium,
                                                             artifacts_dir, size):
    factories.hr_user(app, "zhaopin", role=Role.RECRUITING_SPECIALIST)
    position = factories.position(app)
    numbers = []
    for k, name in enumerate(("王一", "李二"), start=1):
        iv = factories.interview(app, number=f"AI-2026-12-11-00{k}", name=name,
                                 position_id=position)
        numbers.append(iv.number)
    context = chromium.new_context(viewport=SIZES[size], locale="zh-CN",
                                   timezone_id="Asia/Shanghai",
                                   is_mobile=size == "phone", has_touch=size == "phone")
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(live_url + "/console/login")
        page.locator("#username").fill("zhaopin")
        page.locator("#password").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(re.compile(r"/console/interviews"))
        page.goto(live_url + "/console/waitlist")
        for number in numbers:
            page.locator("#interview_number").fill(number)
            page.get_by_role("button", name="加入候补名单").click()
            page.wait_for_selector("text=已加入候补名单")
        rows = page.locator("table.waitlist tbody tr")
        assert rows.count() == 2
        rows.nth(1).get_by_role("button", name="上移").click()
        page.wait_for_selector("text=已上移")
        names = page.locator("table.waitlist tbody tr td[data-label='候选人']").all_inner_texts()
        assert names == ["李二", "王一"]
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= SIZES[size]["width"], width
        page.screenshot(path=str(artifacts_dir / f"waitlist-{size}.png"), full_page=True)
        page.goto(live_url + "/console/reports/promises")
        assert page.get_by_role("heading", name="重新安排承诺兑现情况").is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= SIZES[size]["width"]
        assert errors == []
    finally:
        context.close()

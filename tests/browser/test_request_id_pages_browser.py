"""The 请求编号 on the interview pages in Chromium (issue 12 §7): the desktop console at
1280 and 390 px and the mobile console (opened from WeChat) at 390 px show each message's
and the webhook delivery's request id, short and muted, the whole id in its tooltip, with
no sideways scroll and no console error (test-artifacts/request-id-*.png)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import HrUser, Interview, Position
from app.services.cancellation import commands
from app.services.users.actor import Actor
from tests import factories
from tests.browser.test_console_hr import console_login, shot
from tests.browser.test_mobile_browser import DESKTOP, PHONE_390, open_from_wechat
from tests.factories import DEMO_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RID = "ui-trail-5d1c9e07a4b2"


def _cancelled_with_request_id(app) -> tuple[str, int]:
    """An HR cancel (two team members told, one webhook) made in request RID."""
    factories.webhook_endpoint(app, "http://127.0.0.1:9/hook", name="ATS 对接")
    with app.app_context():
        iv = db.session.scalars(select(Interview).join(Interview.position).where(
            Position.department == "技术部", Position.cancel_requires_review.is_(False))
            .order_by(Interview.id)).first()
        user = db.session.scalars(select(HrUser).where(HrUser.username == "specialist")).one()
        commands.cancel_by_hr(Actor.hr(user).in_request(RID), iv.public_id,
                              reason_code="position_paused", note="编制冻结",
                              notify=frozenset({"candidate", "recruiter"}))
        return iv.public_id, iv.id


def _check(page, expected: int) -> None:
    tags = page.locator(".request-id")
    assert tags.count() == expected
    for i in range(expected):
        tag = tags.nth(i)
        assert tag.is_visible()
        assert tag.inner_text() == f"请求编号 {RID[:12]}…"
        assert tag.get_attribute("title") == f"请求编号 {RID}"
    width = page.evaluate("document.documentElement.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.console_errors == [], page.console_errors


def _page(chromium, options):  # noqa: F811
    context = chromium.new_context(**options)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda msg: page.console_errors.append(msg.text)
            if msg.type == "error" else None)
    page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))
    return context, page


def test_the_interview_pages_show_each_rows_request_id(
        app, demo, live_url, chromium, artifacts_dir):  # noqa: F811 (fixtures)
    public_id, interview_id = _cancelled_with_request_id(app)
    with app.app_context():
        from app.models import OutboxMessage

        messages = len(db.session.scalars(select(OutboxMessage.id).where(
            OutboxMessage.interview_id == interview_id)).all())
    expected = messages + 1  # and the webhook delivery
    for name, options in (("desktop-1280", DESKTOP), ("desktop-390", PHONE_390)):
        context, page = _page(chromium, options)
        try:
            console_login(page, live_url, "specialist", DEMO_PASSWORD)
            page.goto(f"{live_url}/console/interviews/{public_id}")
            assert page.get_by_role("heading", name="系统对接推送").is_visible()
            _check(page, expected)
            shot(page, artifacts_dir, f"request-id-{name}.png")
        finally:
            context.close()
    openid = factories.bind_hr_wechat(app, "specialist")
    context, page = _page(chromium, PHONE_390)
    try:
        open_from_wechat(page, live_url, f"/console/m/interviews/{public_id}", openid)
        _check(page, expected)
        shot(page, artifacts_dir, "request-id-mobile-390.png")
    finally:
        context.close()

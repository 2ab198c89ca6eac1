"""The candidate simulator shows 确认参加 and 改期 as the mini program does: confirming asks
for the reminder / change notices (the "schedule" subscription dialog) and confirms
through the real API; 改期 lists the open slots and moves the interview to one."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Interview, InterviewStatus

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SIMULATOR = "/_sandbox/wechat/simulator"


def _candidate(app, demo) -> dict:
    """A demo candidate whose first interview is 待确认 and can be moved."""
    with app.app_context():
        for cand in demo["candidates"]:
            if cand.get("position_review") or not cand["interview_ids"]:
                continue
            iv = db.session.scalars(select(Interview).where(
                Interview.public_id == cand["interview_ids"][0])).one()
            if iv.status == InterviewStatus.SCHEDULED and iv.session_id is not None:
                db.session.remove()
                return cand
    raise AssertionError("the demo data has no 待确认 interview in a session")


def _interview(app, public_id: str) -> Interview:
    with app.app_context():
        iv = db.session.scalars(select(Interview).where(Interview.public_id == public_id)).one()
        db.session.expunge(iv)
        return iv


@pytest.mark.parametrize("width", [390, 1280])
def test_confirm_then_reschedule_in_the_simulator(app, demo, chromium, live_url,
                                                  artifacts_dir, width):
    from playwright.sync_api import expect

    context = chromium.new_context(viewport={"width": width, "height": 860},
                                   locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    cand = _candidate(app, demo)
    public_id = cand["interview_ids"][0]
    try:
        page.goto(live_url + SIMULATOR)
        page.locator(f'[data-testid="candidate-item"][data-openid="{cand["openid"]}"]').click()
        card = page.locator(f'[data-testid="interview-card"][data-interview-id="{public_id}"]')
        expect(card.get_by_test_id("confirm-button")).to_have_text("确认参加")
        expect(card.get_by_test_id("reschedule-button")).to_have_text("改期")
        expect(card.get_by_test_id("card-hint")).to_contain_text("前确认参加")
        page.screenshot(path=str(artifacts_dir / f"simulator-attendance-{width}.png"),
                        animations="disabled")

        # 确认参加 -> the schedule notices' dialog -> 允许 -> confirmed
        card.get_by_test_id("confirm-button").click()
        expect(page.get_by_test_id("subscribe-dialog")).to_contain_text("面试确认提醒")
        page.get_by_test_id("subscribe-allow").click()
        expect(page.get_by_test_id("toast")).to_contain_text("已确认参加")
        expect(card.get_by_test_id("status-label")).to_have_text("已确认")
        expect(card.get_by_test_id("confirm-button")).to_have_count(0)
        confirmed = _interview(app, public_id)
        assert confirmed.status == InterviewStatus.CONFIRMED
        assert confirmed.confirmed_at is not None

        # 改期 -> the open slots -> pick one -> moved
        before = confirmed.scheduled_at
        card.get_by_test_id("reschedule-button").click()
        sheet = page.get_by_test_id("slot-sheet")
        expect(sheet).to_be_visible()
        expect(page.get_by_test_id("confirm-reschedule")).to_be_disabled()
        page.get_by_test_id("slot-option").first.click()
        page.screenshot(path=str(artifacts_dir / f"simulator-slots-{width}.png"),
                        animations="disabled")
        page.get_by_test_id("confirm-reschedule").click()
        expect(page.get_by_test_id("toast")).to_contain_text("已改期至")
        expect(sheet).to_be_hidden()
        moved = _interview(app, public_id)
        assert moved.scheduled_at != before
        assert errors == []
    finally:
        context.close()

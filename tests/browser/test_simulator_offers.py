"""The candidate simulator shows the candidate's 名额邀请 as the mini program would, through
the real candidate API only: a freed place (候补补位) with its slot and how long it is held;
接受 books it and the new interview appears in 我的面试; a place someone else took first, or
an offer that lapsed, shows the API's own Chinese message; 放弃 (tapped twice) passes the
place to the next waiting candidate, who sees it on 刷新."""
from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
import requests
from sqlalchemy import select

from app.core.timeutil import utcnow
from app.extensions import db
from app.models import Interview, InterviewStatus, OfferState, SlotOffer
from tests import factories
from tests.factories import API, bearer, mp_token

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SIMULATOR = "/_sandbox/wechat/simulator"
TAKEN_MESSAGE = "该名额已被其他候选人预约，请等待下一次邀约"
EXPIRED_MESSAGE = "该邀约已过期"
# Chromium logs every 4xx answer to fetch() on the console; the 409 of a closed offer is
# the API's expected answer (its message is asserted on the page), not a script error.
EXPECTED_409 = "Failed to load resource: the server responded with a status of 409 (CONFLICT)"


def freed_place(app, waiting: int, *, fanout: int = 1) -> SimpleNamespace:
    """factories.freed_place for 产品经理 (产品部); the job has offered the place."""
    world = factories.freed_place(app, waiting, fanout=fanout, title="产品经理",
                                  department="产品部")
    assert world.offered >= 1
    return world


def open_offers(app, candidate_id: int) -> list[SlotOffer]:
    with app.app_context():
        rows = list(db.session.scalars(select(SlotOffer).where(
            SlotOffer.candidate_id == candidate_id).order_by(SlotOffer.id)))
        db.session.expunge_all()
        return rows


def new_page(chromium, width: int):
    context = chromium.new_context(viewport={"width": width, "height": 860},
                                   locale="zh-CN", timezone_id="Asia/Shanghai",
                                   is_mobile=width < 600, has_touch=width < 600)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.js_errors = []
    page.on("console", lambda msg: page.js_errors.append(msg.text)
            if msg.type == "error" and msg.text != EXPECTED_409 else None)
    page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
    return context, page


def login(page, live_url: str, openid: str) -> None:
    page.goto(live_url + SIMULATOR)
    page.locator(f'[data-testid="candidate-item"][data-openid="{openid}"]').click()
    page.locator('[data-screen="interviews"]').wait_for()


def no_sideways_scroll(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize("width", [390, 1280])
def test_accepting_an_offer_books_the_slot_and_it_appears_in_the_list(
        app, chromium, live_url, artifacts_dir, width):
    from playwright.sync_api import expect

    world = freed_place(app, 1)
    me = world.people[0]
    [offer] = open_offers(app, me.id)
    context, page = new_page(chromium, width)
    try:
        login(page, live_url, me.openid)
        section = page.get_by_test_id("offer-section")
        expect(section).to_be_visible()
        expect(section).to_contain_text("名额邀请")
        card = page.locator(f'[data-testid="offer-card"][data-offer-id="{offer.public_id}"]')
        expect(card).to_contain_text("产品经理")
        expect(card).to_contain_text("产品部")
        expect(card.get_by_test_id("offer-kind")).to_have_text("候补补位")
        expect(card).to_contain_text("名额保留至")
        expect(card).to_contain_text("待回复")
        # the session's time, start to end, in Beijing time
        expect(card).to_contain_text(_beijing_range(app, world.session))
        expect(page.get_by_test_id("interview-card")).to_have_count(0)
        no_sideways_scroll(page, width)
        page.screenshot(path=str(artifacts_dir / f"simulator-offer-{width}.png"),
                        animations="disabled", full_page=True)

        card.get_by_test_id("offer-accept").click()
        expect(page.get_by_test_id("toast")).to_contain_text("预约成功")
        booked = page.get_by_test_id("interview-card")
        expect(booked).to_have_count(1)
        expect(booked).to_have_attribute("data-new", "")
        expect(booked.get_by_test_id("status-label")).to_have_text("待确认")
        expect(booked).to_contain_text("产品经理")
        expect(booked.get_by_test_id("confirm-button")).to_have_text("确认参加")
        expect(page.get_by_test_id("offer-card")).to_have_count(0)
        notice = page.get_by_test_id("offer-notice")
        expect(notice).to_contain_text("已接受邀请，面试已预约")
        expect(notice).to_have_attribute("data-kind", "ok")
        no_sideways_scroll(page, width)
        expect(page.get_by_test_id("toast")).to_be_hidden()  # it would hide the card
        page.screenshot(path=str(artifacts_dir / f"simulator-offer-accepted-{width}.png"),
                        animations="disabled", full_page=True)

        [after] = open_offers(app, me.id)
        assert after.state == OfferState.ACCEPTED
        with app.app_context():
            iv = db.session.get(Interview, after.interview_id)
            assert iv.candidate_id == me.id and iv.session_id == world.session
            assert iv.status == InterviewStatus.SCHEDULED
            assert booked.get_attribute("data-interview-id") == iv.public_id
        assert page.js_errors == []
    finally:
        context.close()


def _beijing_range(app, session_id: int) -> str:
    from app.core.timeutil import SHANGHAI
    from app.models import InterviewSession

    with app.app_context():
        s = db.session.get(InterviewSession, session_id)
        start, end = s.starts_at.astimezone(SHANGHAI), s.ends_at.astimezone(SHANGHAI)
    year = "" if start.year == utcnow().astimezone(SHANGHAI).year else f"{start.year}年"
    return (f"{year}{start.month}月{start.day}日 周{'一二三四五六日'[start.weekday()]} "
            f"{start:%H:%M}-{end:%H:%M}")


@pytest.mark.parametrize(("closed", "width"), [("taken", 390), ("expired", 1280)])
def test_an_offer_closed_meanwhile_shows_the_apis_chinese_message(
        app, chromium, live_url, artifacts_dir, closed, width):
    """The list was read while the offer was open; then another candidate booked the
    place first (taken), or the offer lapsed (expired); 接受 shows why, in the API's words,
    and the refreshed list no longer offers it."""
    from playwright.sync_api import expect

    world = freed_place(app, 2, fanout=2)
    me, rival = world.people
    [offer] = open_offers(app, me.id)
    context, page = new_page(chromium, width)
    try:
        login(page, live_url, me.openid)
        card = page.locator(f'[data-testid="offer-card"][data-offer-id="{offer.public_id}"]')
        expect(card).to_be_visible()
        if closed == "taken":
            headers = bearer(mp_token(live_url, rival.openid))
            [theirs] = requests.get(f"{live_url}{API}/offers", headers=headers,
                                    timeout=10).json()["items"]
            r = requests.post(f"{live_url}{API}/offers/{theirs['id']}/accept",
                              headers=headers, timeout=10)
            assert r.status_code == 200, r.text
            message = TAKEN_MESSAGE
        else:
            with app.app_context():
                row = db.session.get(SlotOffer, offer.id)
                row.expires_at = utcnow() - timedelta(seconds=1)
                db.session.commit()
            message = EXPIRED_MESSAGE

        card.get_by_test_id("offer-accept").click()
        notice = page.get_by_test_id("offer-notice")
        expect(notice).to_have_text(message)
        expect(notice).to_have_attribute("data-kind", "error")
        expect(page.get_by_test_id("offer-card")).to_have_count(0)
        expect(page.get_by_test_id("offer-section")).to_contain_text("暂无待回复的名额邀请")
        expect(page.get_by_test_id("interview-card")).to_have_count(0)
        expect(page.get_by_test_id("toast")).to_be_hidden()
        no_sideways_scroll(page, width)
        page.screenshot(path=str(artifacts_dir / f"simulator-offer-{closed}-{width}.png"),
                        animations="disabled", full_page=True)
        [after] = open_offers(app, me.id)
        assert after.state == (OfferState.TAKEN if closed == "taken" else OfferState.EXPIRED)
        assert after.interview_id is None
        assert page.js_errors == []
    finally:
        context.close()


def test_declining_passes_the_place_to_the_next_candidate_who_sees_it_on_refresh(
        app, chromium, live_url):
    from playwright.sync_api import expect

    world = freed_place(app, 2)
    first, second = world.people
    [offer] = open_offers(app, first.id)
    assert open_offers(app, second.id) == []
    context, page = new_page(chromium, 390)
    try:
        waiting = context.new_page()
        waiting.js_errors = []
        waiting.on("pageerror", lambda exc: waiting.js_errors.append(str(exc)))
        login(waiting, live_url, second.openid)
        expect(waiting.locator("#interview-empty")).to_be_visible()
        expect(waiting.get_by_test_id("offer-section")).to_be_hidden()

        login(page, live_url, first.openid)
        card = page.locator(f'[data-testid="offer-card"][data-offer-id="{offer.public_id}"]')
        # the first tap only asks again: nothing is declined yet
        card.get_by_test_id("offer-decline").click()
        expect(card.get_by_test_id("offer-decline")).to_have_text("确认放弃")
        expect(card.get_by_test_id("offer-hint")).to_contain_text("再点一次确认")
        assert open_offers(app, first.id)[0].state == OfferState.OPEN
        card.get_by_test_id("offer-decline").click()
        expect(page.get_by_test_id("toast")).to_contain_text("已放弃")
        expect(page.get_by_test_id("offer-card")).to_have_count(0)
        expect(page.get_by_test_id("offer-notice")).to_have_text("已放弃该名额邀请")
        assert open_offers(app, first.id)[0].state == OfferState.DECLINED

        # the next waiting candidate is offered the place at once; 刷新 shows it
        waiting.get_by_test_id("refresh-list").click()
        theirs = waiting.get_by_test_id("offer-card")
        expect(theirs).to_have_count(1)
        expect(theirs.get_by_test_id("offer-kind")).to_have_text("候补补位")
        expect(waiting.get_by_test_id("offer-count")).to_have_text("1 个待回复")
        assert page.js_errors == [] and waiting.js_errors == []
    finally:
        context.close()


def test_a_promised_slot_is_offered_and_booking_one_closes_the_others(
        app, chromium, live_url, artifacts_dir):
    """The company cancelled with 为候选人重新安排: the promise job offers the position's
    sessions with room (重新安排, with a reply deadline); booking one takes the other
    offer off the list, and the new interview sits beside the cancelled one."""
    from playwright.sync_api import expect

    from app.jobs import promises as promise_job

    app.config["RATE_LIMITS"] = {}
    position = factories.position(app, "数据分析师", department="数据部")
    starts = utcnow() + timedelta(days=3)
    sessions = [factories.interview_session(app, position_id=position,
                                            starts_at=starts + timedelta(days=k), capacity=2)
                for k in range(2)]
    cancelled = factories.interview(app, number="AI-T-PR-1", name="重排候选人",
                                    position_id=position, scheduled_at=starts)
    openid = "sandbox-promise-01"
    factories.wechat_account(app, openid, candidate_id=cancelled.candidate_id)
    factories.company_cancel(app, cancelled.public_id, utcnow())
    with app.app_context():
        promise_job.run(utcnow())
    made = open_offers(app, cancelled.candidate_id)
    assert sorted(o.session_id for o in made) == sessions
    context, page = new_page(chromium, 390)
    try:
        login(page, live_url, openid)
        cards = page.get_by_test_id("offer-card")
        expect(cards).to_have_count(2)
        expect(page.get_by_test_id("offer-count")).to_have_text("2 个待回复")
        for k in range(2):
            expect(cards.nth(k).get_by_test_id("offer-kind")).to_have_text("重新安排")
            expect(cards.nth(k)).to_contain_text("回复截止")
            expect(cards.nth(k)).to_contain_text("数据分析师")
        # soonest slot first, as the API lists them
        assert cards.nth(0).get_attribute("data-offer-id") == next(
            o.public_id for o in made if o.session_id == sessions[0])
        expect(page.get_by_test_id("interview-card")).to_have_count(1)
        expect(page.get_by_test_id("status-label")).to_have_text("已取消")
        page.screenshot(path=str(artifacts_dir / "simulator-offer-promise-390.png"),
                        animations="disabled", full_page=True)

        later = cards.nth(1).get_attribute("data-offer-id")
        cards.nth(1).get_by_test_id("offer-accept").click()
        expect(page.get_by_test_id("toast")).to_contain_text("预约成功")
        expect(page.get_by_test_id("offer-card")).to_have_count(0)
        expect(page.get_by_test_id("interview-card")).to_have_count(2)
        new = page.locator('[data-testid="interview-card"][data-new]')
        expect(new.get_by_test_id("status-label")).to_have_text("待确认")
        states = {o.public_id: o.state for o in open_offers(app, cancelled.candidate_id)}
        assert states.pop(later) == OfferState.ACCEPTED
        assert list(states.values()) == [OfferState.TAKEN]
        assert page.js_errors == []
    finally:
        context.close()

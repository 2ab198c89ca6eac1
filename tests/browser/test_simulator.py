"""The candidate simulator (/_sandbox/wechat/simulator) plays the mini program in a browser:
login, 我的面试, cancel with a reason, the subscription dialog, the result and the WeChat
message that the outbox worker sends through the sandbox."""
from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SIMULATOR = "/_sandbox/wechat/simulator"


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read().decode("utf-8"))


def _first_direct_cancel_candidate(demo) -> dict:
    """The first demo candidate whose interview is cancelled without HR review."""
    for cand in demo["candidates"]:
        if cand["openid"] and cand["interview_ids"] and not cand.get("position_review"):
            return cand
    raise AssertionError("the demo data has no candidate with a directly cancellable interview")


def _login(page, live_url: str, openid: str):
    page.goto(live_url + SIMULATOR)
    page.get_by_test_id("candidate-item").first.wait_for()
    page.locator(f'[data-testid="candidate-item"][data-openid="{openid}"]').click()
    page.get_by_test_id("interview-card").first.wait_for()


def test_candidates_endpoint_lists_mini_program_accounts(app, demo, client):
    response = client.get(SIMULATOR + "/candidates")
    assert response.status_code == 200
    items = response.get_json()["items"]
    openids = [item["openid"] for item in items]
    assert openids == sorted(openids)
    expected = {c["openid"]: c["name"] for c in demo["candidates"]}
    assert {item["openid"]: item["name"] for item in items} == expected  # no HR / OA accounts


def test_simulator_page_is_served(client):
    response = client.get(SIMULATOR)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'name="viewport"' in html
    assert "simulator.js" in html and "simulator.css" in html
    assert client.get("/_sandbox/wechat/static/simulator.js").status_code == 200


def test_candidate_cancels_in_two_taps_and_gets_the_wechat_message(
        app, demo, phone_page, live_url, artifacts_dir):
    from playwright.sync_api import expect

    from app.jobs.worker import start_embedded_worker

    page = phone_page
    cand = _first_direct_cancel_candidate(demo)
    worker = start_embedded_worker(app)
    try:
        _login(page, live_url, cand["openid"])
        expect(page.locator("#greeting")).to_contain_text(cand["name"])

        card = page.get_by_test_id("interview-card").filter(
            has=page.get_by_test_id("cancel-button")).first
        interview_id = card.get_attribute("data-interview-id")
        assert interview_id in cand["interview_ids"]
        expect(card).to_contain_text(re.compile(r"\d+月\d+日 周. \d\d:\d\d"))
        page.screenshot(path=str(artifacts_dir / "simulator-list.png"), animations="disabled")

        # tap 1: 取消面试 -> reason sheet
        card.get_by_test_id("cancel-button").click()
        expect(page.get_by_test_id("reason-sheet")).to_be_visible()
        confirm = page.get_by_test_id("confirm-cancel")
        expect(confirm).to_be_disabled()
        page.get_by_test_id("reason-option").filter(has_text="时间冲突").click()
        expect(page.get_by_test_id("note-input")).to_be_hidden()
        expect(confirm).to_be_enabled()
        page.screenshot(path=str(artifacts_dir / "simulator-sheet.png"), animations="disabled")

        # tap 2: 确认取消 -> WeChat's subscription dialog -> 允许
        confirm.click()
        allow = page.get_by_test_id("subscribe-allow")
        expect(allow).to_be_visible()
        expect(page.get_by_test_id("subscribe-dialog")).to_contain_text("面试通知")
        page.screenshot(path=str(artifacts_dir / "simulator-subscribe.png"), animations="disabled")
        allow.click()

        expect(page.get_by_test_id("result-status")).to_have_text("已取消")
        expect(page.get_by_test_id("message-card").first).to_be_visible(timeout=30_000)
        expect(page.get_by_test_id("message-card").first).to_contain_text("时间冲突")
        page.screenshot(path=str(artifacts_dir / "simulator.png"), full_page=True,
                        animations="disabled")

        query = urllib.parse.urlencode({"touser": cand["openid"]})
        sent = _get_json(f"{live_url}/_sandbox/wechat/messages?{query}")["items"]
        subscribe_sends = [m for m in sent if m["api"] == "subscribe_send"]
        assert len(subscribe_sends) == 1, sent
        assert subscribe_sends[0]["touser"] == cand["openid"]
        expect(page.get_by_test_id("message-card")).to_have_count(len(sent))

        # tapping the notification opens its page: the open is reported (read tracking)
        page.get_by_test_id("message-open").first.click()
        expect(page.get_by_test_id("message-open").first).to_contain_text("已记录为已读")
        with app.app_context():
            from sqlalchemy import select

            from app.extensions import db
            from app.models import OutboxMessage

            read = db.session.scalars(select(OutboxMessage.read_at).where(
                OutboxMessage.recipient_type == "candidate",
                OutboxMessage.recipient_id == cand["id"])).all()
            db.session.remove()
        assert any(read), read

        # back to 我的面试: the interview is cancelled and cannot be cancelled again
        page.get_by_test_id("back-button").click()
        card = page.locator(f'[data-testid="interview-card"][data-interview-id="{interview_id}"]')
        expect(card.get_by_test_id("status-label")).to_have_text("已取消")
        expect(card.get_by_test_id("cancel-button")).to_have_count(0)
        assert page.js_errors == []
    finally:
        worker.stop()


def test_other_reason_requires_a_note(app, demo, phone_page, live_url):
    from playwright.sync_api import expect

    page = phone_page
    cand = _first_direct_cancel_candidate(demo)
    _login(page, live_url, cand["openid"])

    page.get_by_test_id("cancel-button").first.click()
    confirm = page.get_by_test_id("confirm-cancel")
    page.get_by_test_id("reason-option").filter(has_text=re.compile(r"^其他$")).click()
    note = page.get_by_test_id("note-input")
    expect(note).to_be_visible()
    expect(confirm).to_be_disabled()

    note.fill("   ")  # blanks are not a note
    expect(confirm).to_be_disabled()
    note.fill("需要照顾家人")
    expect(confirm).to_be_enabled()
    note.fill("")
    expect(confirm).to_be_disabled()
    # maxlength comes from the API's note_max_length
    assert int(note.get_attribute("maxlength")) > 0
    assert page.js_errors == []

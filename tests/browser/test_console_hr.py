"""The HR console in a browser: a specialist cancels one interview, a specialist has no
批量取消, a manager batch-cancels a session (worker path with progress), a senior request
is approved at two levels by two users, and a request is sent back for more detail and
answered by the candidate. Every page must run without console errors; what WeChat
accepted is checked in the sandbox's own record (/_sandbox/wechat/messages)."""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import requests

from tests.factories import API, mp_token

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DESKTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "zh-CN",
           "timezone_id": "Asia/Shanghai"}


# --- helpers -----------------------------------------------------------------------------

@pytest.fixture
def console_page(chromium):
    """console_page() -> a fresh desktop page (own cookies); console errors of type
    "error" and uncaught page errors are collected on page.console_errors."""
    contexts = []

    def open_page():
        context = chromium.new_context(**DESKTOP)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.console_errors = []
        page.on("console", lambda msg: page.console_errors.append(
            f"console.{msg.type}: {msg.text} ({msg.location.get('url')})")
            if msg.type == "error" else None)
        page.on("pageerror", lambda exc: page.console_errors.append(f"pageerror: {exc}"))
        return page

    yield open_page
    for context in contexts:
        context.close()


def assert_no_console_errors(*pages) -> None:
    errors = [e for page in pages for e in page.console_errors]
    assert errors == [], errors


def console_login(page, live_url: str, username: str, password: str) -> None:
    """Log in through the real form; lands on 面试列表."""
    from playwright.sync_api import expect

    page.goto(live_url + "/console/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"/console/interviews"))
    expect(page.get_by_role("heading", name="面试列表")).to_be_visible()


def shot(page, artifacts_dir: Path, name: str) -> None:
    page.screenshot(path=str(artifacts_dir / name), full_page=True, animations="disabled")


def drain(app) -> None:
    from app.jobs.worker import drain as drain_outbox

    with app.app_context():
        drain_outbox(app)


class MiniProgramUser:
    """A candidate using the mini program over its HTTP API, as the phone would."""

    def __init__(self, live_url: str, sandbox, openid: str):
        self.live_url, self.sandbox, self.openid = live_url, sandbox, openid
        self.token = mp_token(live_url, openid, bound=True)

    def call(self, method: str, path: str, **body):
        return requests.request(method, f"{self.live_url}{API}{path}",
                                json=body if body else None, timeout=10,
                                headers={"Authorization": f"Bearer {self.token}"})

    def accept_subscriptions(self, times: int = 1) -> None:
        """Tap 允许 in WeChat's subscription dialog `times` times (what the simulator
        does): WeChat records the credits, the mini program reports the results."""
        r = self.call("GET", "/subscriptions/templates?scene=cancel")
        assert r.status_code == 200, r.text
        template_ids = r.json()["template_ids"]
        for _ in range(times):
            for tid in template_ids:
                self.sandbox.post("subscriptions", openid=self.openid, template_id=tid)
            r = self.call("POST", "/subscriptions",
                          results={tid: "accept" for tid in template_ids})
            assert r.status_code == 200, r.text


def values(message: dict) -> dict:
    """{field: value} of a WeChat template/subscribe message's data."""
    return {k: v.get("value") for k, v in (message.get("data") or {}).items()}


def interview_number(app, public_id: str) -> str:
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Interview

    with app.app_context():
        number = db.session.scalar(select(Interview.number)
                                   .where(Interview.public_id == public_id))
        db.session.remove()
    return number


def staff_outbox(app, username: str) -> list[tuple]:
    """(kind, status, channel, last_error) of the outbox rows to an HR user: shown when
    the sandbox did not get what it should have."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import HrUser, OutboxMessage

    with app.app_context():
        user_id = db.session.scalar(select(HrUser.id).where(HrUser.username == username))
        rows = [(m.kind, m.status.value, m.channel, m.last_error) for m in db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.recipient_type == "hr_user",
                                        OutboxMessage.recipient_id == user_id))]
        db.session.remove()
    return rows


def review_candidate(demo) -> dict:
    return next(c for c in demo["candidates"] if c["position_review"] and c["openid"])


# --- 1. a specialist cancels one ---------------------------------------------------------

def test_specialist_cancels_one_interview_and_the_candidate_is_told(
        app, demo, sandbox, live_url, console_page, artifacts_dir):
    from playwright.sync_api import expect

    cand = next(c for c in demo["candidates"]
                if c["department"] == "技术部" and not c["position_review"])
    public_id = cand["interview_ids"][0]
    MiniProgramUser(live_url, sandbox, cand["openid"]).accept_subscriptions()

    page = console_page()
    console_login(page, live_url, "specialist", demo["password"])
    page.get_by_label("部门").select_option("技术部")
    page.get_by_role("button", name="搜索").click()
    row_link = page.locator(f'a[href="/console/interviews/{public_id}"]')
    expect(row_link).to_be_visible()
    expect(page.locator("tbody tr").filter(has_text="AI实验室")).to_have_count(0)
    shot(page, artifacts_dir, "console-list-specialist.png")
    number = row_link.inner_text().strip()
    row_link.click()

    expect(page.get_by_role("heading", name=re.compile(number))).to_contain_text("待确认")
    page.get_by_role("button", name="取消面试").click()
    dialog = page.locator("#cancel-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading")).to_have_text(f"取消面试 {number}")
    dialog.locator("#reason_code").select_option(label="岗位暂停招聘")
    dialog.locator("#note").fill("该岗位本季度暂停招聘，给您带来不便敬请谅解")
    for label in ("候选人", "招聘负责人", "用人经理", "面试官"):
        expect(dialog.get_by_label(label, exact=True)).to_be_checked()
    shot(page, artifacts_dir, "console-cancel-dialog.png")
    dialog.get_by_role("button", name="确认取消").click()

    expect(page.locator(".flash-success")).to_contain_text(f"已取消面试 {number}")
    expect(page.locator("h1 .badge")).to_have_text("已取消")
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("公司取消（张专员）")
    records = page.locator("table").first
    expect(records).to_contain_text("岗位暂停招聘")
    expect(records).to_contain_text("该岗位本季度暂停招聘")
    expect(page.get_by_role("button", name="取消面试")).to_have_count(0)

    drain(app)
    sent = sandbox.messages(touser=cand["openid"])
    assert [m["api"] for m in sent] == ["subscribe_send"], sent
    fields = values(sent[0])
    assert fields["thing3"] == "岗位暂停招聘", fields
    assert sent[0]["template_id"] == app.config["WECHAT_TPL_INTERVIEW_CANCELLED"]

    page.reload()  # the 通知 table shows what was sent
    expect(page.locator("tbody tr").filter(has_text="候选人 · ").first
           ).to_contain_text("小程序订阅消息")
    shot(page, artifacts_dir, "console-cancelled.png")
    assert_no_console_errors(page)


# --- 2. no 批量取消 for a specialist -------------------------------------------------------

def test_specialist_has_no_batch_cancel(app, demo, live_url, console_page):
    from playwright.sync_api import expect

    page = console_page()
    console_login(page, live_url, "specialist", demo["password"])
    expect(page.locator("nav.nav")).to_contain_text("待审批")
    expect(page.locator("nav.nav").get_by_role("link", name="批量取消")).to_have_count(0)
    expect(page.locator("#batch-selected")).to_have_count(0)
    expect(page.get_by_role("button", name="批量取消")).to_have_count(0)
    expect(page.locator('input[name="interview_ids"]')).to_have_count(0)

    token = page.locator('#rows-form input[name="csrf_token"]').get_attribute("value")
    assert token
    session = demo["candidates"][0]["session_id"]
    response = page.request.post(live_url + "/console/batch", form={
        "csrf_token": token, "step": "preview", "session_id": str(session),
        "reason_code": "position_paused"}, max_redirects=0)
    assert response.status == 403, response.text()
    assert "只有招聘经理或管理员可以批量取消" in response.text()
    assert page.request.get(live_url + "/console/batch", max_redirects=0).status == 403
    with app.app_context():
        from sqlalchemy import func, select

        from app.extensions import db
        from app.models import CancelBatch, Interview, InterviewStatus

        assert db.session.scalar(select(func.count()).select_from(CancelBatch)) == 0
        assert db.session.scalar(select(func.count()).select_from(Interview).where(
            Interview.status == InterviewStatus.CANCELLED)) == 0
        db.session.remove()
    assert_no_console_errors(page)


# --- 3. a manager batch-cancels a session ------------------------------------------------

def test_manager_batch_cancels_a_session_in_the_worker(
        app, demo, sandbox, live_url, console_page, artifacts_dir, monkeypatch):
    from playwright.sync_api import expect

    from app.jobs.worker import start_embedded_worker
    from app.services.cancellation import batch as batch_service

    monkeypatch.setattr(batch_service, "INLINE_LIMIT", 0)  # every batch runs in the worker
    in_scope = [c for c in demo["candidates"] if c["department"] in ("技术部", "AI实验室")]
    by_session = Counter(c["session_id"] for c in in_scope)
    session_id, count = by_session.most_common(1)[0]
    assert count >= 2, by_session
    cands = [c for c in in_scope if c["session_id"] == session_id]
    for cand in cands:
        MiniProgramUser(live_url, sandbox, cand["openid"]).accept_subscriptions()

    page = console_page()
    console_login(page, live_url, "manager", demo["password"])
    page.locator("nav.nav").get_by_role("link", name="批量取消").click()
    expect(page.get_by_role("heading", name="批量取消")).to_be_visible()
    page.locator("#session_id").select_option(str(session_id))
    expect(page.locator("#session_id option:checked")).to_contain_text(f"（{count}场）")
    page.locator("#reason_code").select_option(label="岗位已招满")
    page.get_by_role("button", name="预览").click()

    preview = page.locator("#batch-preview")
    expect(preview).to_be_visible()
    expect(page.locator("#preview-total")).to_have_text(str(count))
    expect(preview).to_contain_text("原因：岗位已招满")
    expect(preview).to_contain_text(f"{count} 位候选人各一条取消通知")
    expect(preview).to_contain_text("2 位招聘团队成员各一条汇总通知")
    confirm = preview.get_by_role("button", name="确认批量取消")
    expect(confirm).to_be_visible()
    shot(page, artifacts_dir, "console-batch-preview.png")
    confirm.click()

    # queued for the worker: the progress page polls until the result
    page.wait_for_url(re.compile(r"/console/batch/b_"))
    expect(page.locator("#batch-total")).to_have_text(str(count))
    expect(page.locator("#batch-result")).to_have_count(0)
    expect(page.locator("#batch-processed")).to_have_text("0")
    shot(page, artifacts_dir, "console-batch-progress.png")
    # The dispatcher only: the scheduled jobs (the daily digest...) would send staff
    # messages of their own at whatever hour the test runs.
    app.config["SCHEDULER_ENABLED"] = False
    worker = start_embedded_worker(app)
    try:
        expect(page.locator("#batch-result")).to_be_visible(timeout=30_000)
        expect(page.locator("#batch-status")).to_contain_text(f"已取消 {count} 场")
        expect(page.locator("#batch-processed")).to_have_text(str(count))
        expect(page.locator("#batch-status")).to_contain_text("跳过 0 场")
        shot(page, artifacts_dir, "console-batch-result.png")
    finally:
        worker.stop()
    drain(app)

    for cand in cands:
        sent = sandbox.messages(touser=cand["openid"])
        assert len(sent) == 1, (cand["openid"], sent)
        assert sent[0]["api"] == "subscribe_send"
        assert values(sent[0])["thing3"] == "岗位已招满"
    for username in ("specialist", "interviewer"):  # recruiter, interviewer
        sent = sandbox.messages(touser=f"sandbox-hr-{username}")
        assert len(sent) == 1, (username, sent, staff_outbox(app, username))
        assert sent[0]["api"] == "template_send"
        fields = values(sent[0])
        assert fields["thing1"] == "面试已批量取消", fields
        assert fields["thing2"].startswith(f"共{count}场"), fields
        assert fields["thing4"] == "岗位已招满"
    assert sandbox.messages(touser="sandbox-hr-manager") == []  # who acted: nothing
    assert_no_console_errors(page)


# --- 4. a senior request, two levels, two users ------------------------------------------

def test_senior_request_needs_two_approvers(
        app, demo, sandbox, live_url, console_page, artifacts_dir):
    from playwright.sync_api import expect

    from app.services.cancellation import cancel_by_candidate

    cand = review_candidate(demo)
    public_id = cand["interview_ids"][0]
    MiniProgramUser(live_url, sandbox, cand["openid"]).accept_subscriptions(times=2)
    with app.app_context():
        outcome = cancel_by_candidate(candidate_id=cand["id"], interview_public_id=public_id,
                                      reason_code="found_other_job")
        request_id, number = outcome.cancellation_id, outcome.interview.number
        assert outcome.state.value == "requested"
    drain(app)
    assert [values(m)["phrase3"] for m in sandbox.messages(touser=cand["openid"])] == ["审核中"]

    specialist = console_page()
    console_login(specialist, live_url, "specialist", demo["password"])
    specialist.locator("nav.nav").get_by_role("link", name="待审批").click()
    card = specialist.locator(f'section.approval[data-cancellation="{request_id}"]')
    expect(card).to_contain_text(number)
    expect(card).to_contain_text("高级岗位 · 两级审批")
    expect(card).to_contain_text("已找到其他工作")
    expect(card).to_contain_text("第1级：待审批；第2级：待审批")
    shot(specialist, artifacts_dir, "console-approvals-level1.png")
    card.locator("textarea").fill("同意，已与候选人电话确认")
    card.get_by_role("button", name="同意").click()

    expect(specialist.locator(".flash-success")).to_contain_text(f"已同意（第1级）：{number}")
    expect(specialist.locator(".flash-success")).to_contain_text("等待二级审批")
    expect(card).to_contain_text("第1级：已同意（同意，已与候选人电话确认）；第2级：待审批")
    expect(card).to_contain_text("等待二级审批")
    for name in ("同意", "驳回", "要求补充说明"):
        expect(card.get_by_role("button", name=name)).to_have_count(0)
    shot(specialist, artifacts_dir, "console-approvals-waiting-level2.png")
    # nor can the specialist decide level 2 by posting the form
    token = specialist.locator('form[action="/console/logout"] input[name="csrf_token"]'
                               ).get_attribute("value")
    response = specialist.request.post(
        f"{live_url}/console/approvals/{request_id}/approve",
        form={"csrf_token": token, "comment": ""}, max_redirects=0)
    assert response.status == 403, response.status
    assert "二级审批需由招聘经理或管理员完成" in response.text()

    manager = console_page()
    console_login(manager, live_url, "manager", demo["password"])
    manager.locator("nav.nav").get_by_role("link", name="待审批").click()
    card = manager.locator(f'section.approval[data-cancellation="{request_id}"]')
    expect(card).to_contain_text("第1级：已同意")
    card.get_by_role("button", name="同意").click()
    expect(manager.locator(".flash-success")).to_contain_text(f"已同意（第2级）：{number}")
    expect(manager.locator(".flash-success")).not_to_contain_text("等待二级审批")
    expect(card).to_have_count(0)  # decided: out of the queue

    manager.goto(f"{live_url}/console/interviews/{public_id}")
    expect(manager.locator("h1 .badge")).to_have_text("已取消")
    expect(manager.locator("dl.facts")).to_contain_text("候选人取消")
    expect(manager.locator("table").first).to_contain_text("已生效")
    shot(manager, artifacts_dir, "console-senior-approved.png")

    drain(app)
    sent = sandbox.messages(touser=cand["openid"])
    assert [values(m)["phrase3"] for m in sent] == ["审核中", "已通过"], sent
    assert values(sent[1])["thing4"] == "面试已取消"
    assert sent[1]["template_id"] == app.config["WECHAT_TPL_CANCEL_REQUEST"]
    assert_no_console_errors(specialist, manager)


# --- 5. sent back for more detail, answered, approved ------------------------------------

def test_request_sent_back_for_detail_is_answered_and_approved(
        app, demo, sandbox, live_url, console_page, artifacts_dir):
    from playwright.sync_api import expect

    cand = review_candidate(demo)
    public_id = cand["interview_ids"][0]
    phone = MiniProgramUser(live_url, sandbox, cand["openid"])
    phone.accept_subscriptions(times=2)
    r = phone.call("POST", f"/interviews/{public_id}/cancel", reason_code="personal")
    assert r.status_code == 200, r.text
    assert r.json()["cancellation"]["state"] == "requested", r.json()
    number = interview_number(app, public_id)

    page = console_page()
    console_login(page, live_url, "specialist", demo["password"])
    page.locator("nav.nav").get_by_role("link", name="待审批").click()
    card = page.locator("section.approval").filter(has_text=number)
    expect(card).to_contain_text("个人原因")
    question = "请说明具体是什么个人原因，是否可以改约其他时间？"
    card.locator("textarea").fill(question)
    card.get_by_role("button", name="要求补充说明").click()

    expect(page.locator(".flash-success")).to_contain_text(f"已要求候选人补充说明（第1级）：{number}")
    expect(card).to_contain_text("待候选人补充说明")
    expect(card).to_contain_text(f"要求补充{question}")
    expect(card).to_contain_text("等待候选人补充说明")
    expect(card.get_by_role("button", name="同意")).to_have_count(0)
    shot(page, artifacts_dir, "console-approvals-detail-asked.png")

    drain(app)
    asked = [m for m in sandbox.messages(touser=cand["openid"])
             if values(m).get("phrase3") == "需补充说明"]
    assert len(asked) == 1, sandbox.messages(touser=cand["openid"])

    answer = "家中老人住院需要陪护，本周无法参加面试"
    r = phone.call("POST", f"/interviews/{public_id}/cancel-request/detail", note=answer)
    assert r.status_code == 200, r.text

    page.locator("nav.nav").get_by_role("link", name="待审批").click()
    page.get_by_label("状态").select_option(label="待审批")
    page.get_by_role("button", name="筛选").click()
    card = page.locator("section.approval").filter(has_text=number)
    expect(card.locator(".badge.status-cancel_pending")).to_have_text("待审批")
    expect(card).to_contain_text(f"候选人补充{answer}")
    expect(card).to_contain_text(question)
    shot(page, artifacts_dir, "console-approvals-answered.png")
    card.get_by_role("button", name="同意").click()

    expect(page.locator(".flash-success")).to_contain_text(f"已同意（第1级）：{number}")
    expect(page.locator(".flash-success")).to_contain_text("等待二级审批")  # senior position
    expect(card).to_contain_text("第1级：已同意")
    expect(card.get_by_role("button", name="同意")).to_have_count(0)
    assert_no_console_errors(page)

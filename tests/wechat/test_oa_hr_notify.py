"""HR is told (issue 10 §6): when a candidate cancels or a request needs approval, the
position's HR owners who are bound get an Official Account template message under the
2023 rules (typed keyword fields only: no first/remark, no colour) that opens the mobile
console page (the interview, or the approval queue) instead of the mini program."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests
from oa_hr_helpers import hr_phone, plain, review_request

from app.extensions import db
from app.jobs.worker import drain
from app.services.cancellation import cancel_by_candidate
from app.wechat.sandbox import rules as wechat_rules
from app.wechat.sandbox import templates as sandbox_templates
from templates_msg import MESSAGE_KINDS, render
from templates_msg.catalogue import MOBILE_PAGES

CONTEXT = {
    "interview_number": "AI-2026-12-03-001", "interview_public_id": "iv_0123456789abcdef",
    "candidate_name": "欧阳娜娜", "position_title": "高级Java后端开发工程师（支付方向）",
    "department": "技术部", "scheduled_at": "2026-12-03T14:00:00+08:00",
    "new_scheduled_at": "2026-12-04T14:00:00+08:00",
    "previous_scheduled_at": "2026-12-02T14:00:00+08:00",
    "reason_label": "家中有急事需要处理，无法按时参加本次面试，非常抱歉", "note": "",
}


def _templates(live_url) -> list[dict]:
    items = requests.get(f"{live_url}/_sandbox/wechat/messages", timeout=5).json()["items"]
    return [m for m in items if m["api"] == "template_send"]


def _check_2023_rules(app, message: dict) -> None:
    """Only the template's typed keyword fields, each {"value": ...} fitting its type."""
    with app.test_request_context():
        template = sandbox_templates.find("oa", message["template_id"])
        assert template is not None
        assert set(message["data"]) == {f.name for f in template.fields}
        for name, item in message["data"].items():
            assert set(item) == {"value"}, (name, item)   # no "color"
        assert wechat_rules.check_data(template.fields, message["data"]) is None
    assert not {"first", "remark"} & set(message["data"])


@pytest.mark.parametrize("kind", sorted(MOBILE_PAGES))
def test_staff_messages_follow_the_2023_rules_and_open_the_mobile_console(app, kind):
    with app.test_request_context():
        msg = render(kind, CONTEXT, app="oa", config=app.config, open_token=None)
        template = sandbox_templates.find("oa", msg.template_id)
        assert wechat_rules.check_data(template.fields, msg.data) is None
    assert all(set(item) == {"value"} for item in msg.data.values())
    assert not {"first", "remark"} & set(msg.data)
    assert all(len(item["value"]) <= 20 for k, item in msg.data.items() if k.startswith("thing"))
    base = app.config["PUBLIC_BASE_URL"].rstrip("/")
    assert msg.url in (f"{base}/console/m/interviews/iv_0123456789abcdef",
                       f"{base}/console/m/approvals")


def test_every_staff_kind_fills_only_typed_keyword_fields(app):
    staff = [k for k in MESSAGE_KINDS.values() if k.audience == "staff" and k.oa_template_key]
    assert staff
    for kind in staff:
        assert kind.fields and all(ftype in wechat_rules.FIELD_TYPES
                                   for ftype in kind.fields.values()), kind.code
        assert not {"first", "remark"} & set(kind.fields), kind.code


def test_a_candidates_cancel_tells_the_bound_owners_with_the_interview_page(app, demo,
                                                                            live_url):
    public_id, _ = plain(app, demo)
    cand = next(c for c in demo["candidates"] if c["interview_ids"][0] == public_id)
    with app.app_context():
        cancel_by_candidate(candidate_id=cand["id"], interview_public_id=public_id,
                            reason_code="found_other_job")
        db.session.remove()
    drain(app)
    sent = {m["touser"]: m for m in _templates(live_url)}
    # the recruiter and the hiring manager (and the interviewer) of the position
    for username in ("specialist", "manager", "interviewer"):
        message = sent[f"sandbox-hr-{username}"]
        assert message["url"] == (app.config["PUBLIC_BASE_URL"].rstrip("/")
                                  + f"/console/m/interviews/{public_id}")
        assert message["miniprogram"] is None
        assert message["data"]["thing1"]["value"] == "候选人取消面试"
        _check_2023_rules(app, message)
    assert "sandbox-hr-sales_manager" not in sent and "sandbox-hr-admin" not in sent
    # the link opens the mobile console through WeChat's OAuth
    r = app.test_client().get(urlsplit(sent["sandbox-hr-manager"]["url"]).path)
    assert r.status_code == 302 and "/console/m/" in r.headers["Location"]


def test_a_request_needing_approval_opens_the_approval_page(app, demo, live_url):
    review_request(app, demo)
    drain(app)
    approvals = [m for m in _templates(live_url)
                 if m["data"]["thing1"]["value"] == "面试取消申请待审批"]
    assert {m["touser"] for m in approvals} == {"sandbox-hr-specialist", "sandbox-hr-manager"}
    for message in approvals:
        assert message["url"].endswith("/console/m/approvals")
        _check_2023_rules(app, message)


def test_an_owner_who_unbound_is_no_longer_told_in_wechat(app, demo, live_url):
    assert "已解除" in hr_phone(live_url, "specialist").send("解绑")
    review_request(app, demo)
    drain(app)
    tousers = {m["touser"] for m in _templates(live_url)}
    assert "sandbox-hr-specialist" not in tousers and "sandbox-hr-manager" in tousers

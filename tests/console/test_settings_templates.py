"""Settings: WeChat template ids. The page lists every message kind with the template ids
it is sent with (settings over configuration); an admin changes an id and new messages use
it at once (the dispatcher's sends, the mini program's subscription request); 发送测试消息
sends a kind with sample values to a bound HR user through the outbox and the sandbox,
which checks the id and the fields as WeChat does, and the page shows whether WeChat
accepted it. Audited with before and after; bad ids refused beside the field; admins only."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.jobs.worker import drain
from app.models import AuditEntry, HrUser, OutboxMessage, OutboxStatus, Setting
from app.services.rules.templates import effective_ids
from templates_msg.catalogue import MESSAGE_KINDS, TITLES
from tests.factories import API, console_client, csrf_token, mp_login

PAGE = "/console/settings/templates"
OA_KEY = "WECHAT_OA_TPL_HR_ALERT"
OA_FIELDS = [{"name": "thing1", "type": "thing"}, {"name": "thing2", "type": "thing"},
             {"name": "time3", "type": "time"}, {"name": "thing4", "type": "thing"}]


def _register_template(client, app_name, template_id, fields):
    """The template as registered in the WeChat admin console (the sandbox's)."""
    r = client.post("/_sandbox/wechat/templates", json={
        "app": app_name, "template_id": template_id, "title": "测试模板", "fields": fields})
    assert r.status_code == 200, r.get_json()


def _bind(app, client, username, openid):
    with app.app_context():
        user = db.session.scalars(select(HrUser).where(HrUser.username == username)).one()
        user.wechat_openid = openid
        db.session.commit()
        user_id = user.id
    assert client.post("/_sandbox/wechat/followers", json={"openid": openid}).status_code == 200
    return user_id


def _sent_to(client, openid):
    return client.get(f"/_sandbox/wechat/messages?touser={openid}").get_json()["items"]


def _set(admin, key, value):
    return admin.post(f"{PAGE}/{key}", data={"csrf_token": csrf_token(admin, PAGE),
                                             "template_id": value})


def _test(admin, kind, user_id):
    return admin.post(f"{PAGE}/test", data={"csrf_token": csrf_token(admin, PAGE),
                                            "kind": kind, "user_id": str(user_id)})


def test_every_message_kind_is_listed_with_its_template_ids(app, demo):
    html = console_client(app, "admin").get(PAGE).get_data(as_text=True)
    kinds = re.findall(r'<tr data-kind="([a-z_]+)">', html)
    assert sorted(kinds) == sorted(MESSAGE_KINDS)
    for code in MESSAGE_KINDS:
        assert TITLES[code] in html
    for key in ("WECHAT_TPL_INTERVIEW_CANCELLED", OA_KEY):
        assert f'value="{app.config[key]}"' in html


def test_a_changed_id_is_used_at_once_for_new_messages(app, demo, client):
    admin = console_client(app, "admin")
    _register_template(client, "oa", "oa-tpl-new-2027", OA_FIELDS)
    assert _set(admin, OA_KEY, "oa-tpl-new-2027").status_code == 302
    with app.app_context():
        assert effective_ids()[OA_KEY] == "oa-tpl-new-2027"
    # HR cancels: the team's Official Account messages go out with the new id
    public_id = demo["candidates"][0]["interview_ids"][0]
    response = admin.post(f"/console/interviews/{public_id}/cancel", data={
        "csrf_token": csrf_token(admin, f"/console/interviews/{public_id}"),
        "reason_code": "position_paused", "notify": ["candidate", "recruiter"]})
    assert response.status_code == 302
    drain(app)
    with app.app_context():
        staff = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.recipient_type == "hr_user")).all()
        assert staff and {(m.status, m.channel, m.template_id) for m in staff} == {
            (OutboxStatus.SENT, "oa_template", "oa-tpl-new-2027")}
        touser = staff[0].touser
    assert [m["template_id"] for m in _sent_to(client, touser)] == ["oa-tpl-new-2027"]
    [entry] = _audit(app, "settings.template_id_changed")
    assert entry == {"template": OA_KEY, "before": app.config[OA_KEY],
                     "after": "oa-tpl-new-2027"}
    # empty: back to the configured id
    assert _set(admin, OA_KEY, "").status_code == 302
    with app.app_context():
        assert effective_ids()[OA_KEY] == app.config[OA_KEY]


def test_the_mini_program_asks_for_the_new_subscribe_template(app, demo, client):
    admin = console_client(app, "admin")
    headers = mp_login(client, demo["candidates"][0]["openid"])
    before = client.get(f"{API}/subscriptions/templates?scene=cancel", headers=headers
                        ).get_json()["template_ids"]
    assert before[0] == app.config["WECHAT_TPL_INTERVIEW_CANCELLED"]
    assert _set(admin, "WECHAT_TPL_INTERVIEW_CANCELLED", "mp-tpl-cancelled-v2").status_code == 302
    after = client.get(f"{API}/subscriptions/templates?scene=cancel", headers=headers
                       ).get_json()["template_ids"]
    assert after == ["mp-tpl-cancelled-v2", *before[1:]]


def _audit(app, action):
    with app.app_context():
        return [e.data for e in db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))]


@pytest.mark.parametrize("kind", ["staff_candidate_cancelled", "candidate_cancel_confirmed"])
def test_a_test_message_reaches_a_bound_hr_user_and_wechat_accepts_it(app, demo, client, kind):
    admin = console_client(app, "admin")
    user_id = _bind(app, client, "admin", "oa-openid-admin-test")
    page = admin.get(PAGE).get_data(as_text=True)
    assert f'<option value="{user_id}"' in page
    response = _test(admin, kind, user_id)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="test-result" data-accepted="yes"' in html and "微信已接受该消息" in html
    [sent] = _sent_to(client, "oa-openid-admin-test")
    assert sent["template_id"] == app.config[OA_KEY]
    assert set(sent["data"]) == {"thing1", "thing2", "time3", "thing4"}
    with app.app_context():
        row = db.session.scalars(select(OutboxMessage)).one()
        assert (row.kind, row.recipient_type, row.recipient_id, row.channel, row.touser) == \
            (kind, "hr_user", user_id, "oa_template", "oa-openid-admin-test")
        assert row.status in (OutboxStatus.SENT, OutboxStatus.DELIVERED) and row.msgid
    [entry] = _audit(app, "settings.template_test_sent")
    assert (entry["kind"], entry["accepted"], entry["hr_user_id"]) == (kind, True, user_id)
    # a test row is never taken again by the dispatcher
    drain(app)
    assert len(_sent_to(client, "oa-openid-admin-test")) == 1


def test_wechat_refusing_the_id_or_the_fields_is_shown(app, demo, client):
    admin = console_client(app, "admin")
    user_id = _bind(app, client, "admin", "oa-openid-admin-test")
    # an id WeChat does not know (not registered in its admin console): 40037
    assert _set(admin, OA_KEY, "oa-tpl-not-registered").status_code == 302
    html = _test(admin, "staff_candidate_cancelled", user_id).get_data(as_text=True)
    assert 'data-accepted="no" data-errcode="40037"' in html and "微信未接受" in html \
        and "模板ID无效" in html
    # a registered template whose fields do not fit what we send: 47003, as WeChat answers
    _register_template(client, "oa", "oa-tpl-other-fields", [
        {"name": "thing1", "type": "thing"}, {"name": "phrase2", "type": "phrase"}])
    assert _set(admin, OA_KEY, "oa-tpl-other-fields").status_code == 302
    html = _test(admin, "staff_candidate_cancelled", user_id).get_data(as_text=True)
    assert 'data-accepted="no" data-errcode="47003"' in html
    assert _sent_to(client, "oa-openid-admin-test") == []
    with app.app_context():
        rows = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert [(r.status, r.errcode) for r in rows] == [(OutboxStatus.FAILED, 40037),
                                                         (OutboxStatus.FAILED, 47003)]
    assert [e["accepted"] for e in _audit(app, "settings.template_test_sent")] == [False, False]


def test_test_messages_need_a_bound_user_and_an_oa_template(app, demo, client):
    admin = console_client(app, "admin")
    manager_id = demo["hr_users"]["recruiting_manager"]["id"]
    html = _test(admin, "staff_candidate_cancelled", manager_id).get_data(as_text=True)
    assert 'data-code="hr_user_not_bound"' in html and "尚未绑定微信" in html
    user_id = _bind(app, client, "admin", "oa-openid-admin-test")
    html = _test(admin, "candidate_slot_offer", user_id).get_data(as_text=True)
    assert 'data-code="kind_not_testable"' in html
    html = _test(admin, "no_such_kind", user_id).get_data(as_text=True)
    assert 'data-code="unknown_message_kind"' in html
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


@pytest.mark.parametrize("value", ["bad id!", "模板", "x" * 65])
def test_a_bad_id_is_refused_beside_the_field(app, demo, value):
    admin = console_client(app, "admin")
    response = _set(admin, OA_KEY, value)
    assert response.status_code == 422
    error = re.search(rf'<tr id="tpl-{OA_KEY}">.*?data-code="([a-z_]+)"[^>]*>([^<]+)<',
                      response.get_data(as_text=True), re.S)
    assert error and error.group(1) == "template_id_invalid" and "模板ID只能由" in error.group(2)
    with app.app_context():
        assert db.session.get(Setting, "wechat_template_ids") is None
    assert _audit(app, "settings.template_id_changed") == []


@pytest.mark.parametrize("username", ["manager", "specialist", "interviewer"])
def test_only_admins_may_change_templates_or_send_tests(app, demo, client, username):
    user_id = _bind(app, client, "admin", "oa-openid-admin-test")
    user = console_client(app, username)
    assert user.get(PAGE).status_code == 403
    token = csrf_token(user, "/console/interviews")
    assert user.post(f"{PAGE}/{OA_KEY}", data={"csrf_token": token, "template_id": "x1"}
                     ).status_code == 403
    assert user.post(f"{PAGE}/test", data={"csrf_token": token, "user_id": str(user_id),
                                           "kind": "staff_candidate_cancelled"}
                     ).status_code == 403
    with app.app_context():
        assert db.session.get(Setting, "wechat_template_ids") is None
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert _sent_to(client, "oa-openid-admin-test") == []

"""Settings: cancel reasons. An admin adds, edits, retires and reactivates reasons; each
change shows at once in the mini program's picker and the console's cancel dialog, a
retired reason stays on old cancellations, codes never change, every change is audited
with before and after, bad input gets a Chinese error beside its field and changes
nothing, and nobody but an admin may do any of it."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.core.errors import Forbidden
from app.extensions import db
from app.models import AuditEntry, Cancellation, CancelReason, HrUser, Interview
from app.services.rules import reasons as service
from app.services.users.actor import Actor
from tests.factories import API, console_client, csrf_token, mp_login

PAGE = "/console/settings/reasons"


def _admin(app):
    return console_client(app, "admin")


def _picker(client, openid):
    body = client.get(f"{API}/cancel-reasons", headers=mp_login(client, openid)).get_json()
    return {item["code"]: item for item in body["items"]}


def _reason(app, code):
    with app.app_context():
        row = db.session.scalars(select(CancelReason).where(CancelReason.code == code)).one()
        db.session.expunge(row)
        return row


def _audit(app, action):
    with app.app_context():
        return [(e.actor_id, e.object_id, e.data) for e in db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))]


def _post(client, path, data):
    data = {"csrf_token": csrf_token(client, PAGE), **data}
    return client.post(path, data=data)


NEW = {"code": "family_emergency", "label": "家中有急事", "category": "candidate_initiated",
       "actor": "candidate", "requires_note": "y", "note_max_length": "120",
       "sort_order": "5"}


def test_an_added_reason_is_offered_in_the_mini_program_at_once(app, demo, client):
    admin = _admin(app)
    openid = demo["candidates"][0]["openid"]
    assert "family_emergency" not in _picker(client, openid)
    response = _post(admin, PAGE, NEW)
    assert response.status_code == 302
    offered = _picker(client, openid)["family_emergency"]
    assert offered == {"code": "family_emergency", "label": "家中有急事", "requires_note": True,
                       "note_max_length": 120}
    reason = _reason(app, "family_emergency")
    [(actor_id, object_id, data)] = _audit(app, "settings.reason_created")
    assert actor_id == demo["hr_users"]["admin"]["id"] and object_id == reason.id
    assert data["before"] is None
    assert data["after"] == {"code": "family_emergency", "label": "家中有急事",
                             "category": "candidate_initiated", "actor": "candidate",
                             "requires_note": True, "note_max_length": 120,
                             "sort_order": 5, "active": True}
    page = admin.get(PAGE).get_data(as_text=True)
    assert "家中有急事" in page and "family_emergency" in page


def test_editing_changes_the_picker_and_is_audited_with_before_and_after(app, demo, client):
    admin = _admin(app)
    openid = demo["candidates"][0]["openid"]
    reason = _reason(app, "time_conflict")
    assert admin.get(f"{PAGE}/{reason.id}").status_code == 200
    response = _post(admin, f"{PAGE}/{reason.id}", {
        "label": "面试时间冲突", "category": "candidate_initiated", "actor": "candidate",
        "requires_note": "y", "note_max_length": "50", "sort_order": str(reason.sort_order),
        "code": "renamed_code"})  # a code in the form is ignored: codes never change
    assert response.status_code == 302
    offered = _picker(client, openid)["time_conflict"]
    assert (offered["label"], offered["requires_note"], offered["note_max_length"]) == \
        ("面试时间冲突", True, 50)
    assert _reason(app, "time_conflict").id == reason.id
    [(_, object_id, data)] = _audit(app, "settings.reason_updated")
    assert object_id == reason.id and data["code"] == "time_conflict"
    assert data["before"] == {"label": "时间冲突", "requires_note": False,
                              "note_max_length": 200}
    assert data["after"] == {"label": "面试时间冲突", "requires_note": True,
                             "note_max_length": 50}
    # the candidate must now write a note with it
    iv = demo["candidates"][0]["interview_ids"][0]
    refused = client.post(f"{API}/interviews/{iv}/cancel", json={"reason_code": "time_conflict"},
                          headers={**mp_login(client, openid), "Idempotency-Key": "k-1"})
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "note_required"


def test_the_code_cannot_be_changed_by_the_service(app, demo):
    with app.app_context():
        admin = Actor.hr(db.session.get(HrUser, demo["hr_users"]["admin"]["id"]))
        reason = _reason(app, "personal")
        with pytest.raises(service.ValidationFailed) as exc:
            service.update_reason(admin, reason.id, code="other_code")
        assert exc.value.details["errors"]["code"]["code"] == "field_not_editable"
    assert _reason(app, "personal").code == "personal"


def test_a_retired_reason_leaves_the_pickers_but_stays_on_old_cancellations(app, demo, client):
    admin = _admin(app)
    candidate = demo["candidates"][0]
    openid, iv = candidate["openid"], candidate["interview_ids"][0]
    headers = mp_login(client, openid)
    done = client.post(f"{API}/interviews/{iv}/cancel", json={"reason_code": "personal"},
                       headers={**headers, "Idempotency-Key": "k-2"})
    assert done.status_code == 200, done.get_json()
    personal = _reason(app, "personal")
    position_paused = _reason(app, "position_paused")

    assert _post(admin, f"{PAGE}/{personal.id}/retire", {}).status_code == 302
    assert _post(admin, f"{PAGE}/{position_paused.id}/retire", {}).status_code == 302
    assert "personal" not in _picker(client, openid)
    # a new cancel with it is refused; the console's cancel dialog no longer offers it
    other = demo["candidates"][1]
    refused = client.post(f"{API}/interviews/{other['interview_ids'][0]}/cancel",
                          json={"reason_code": "personal"},
                          headers={**mp_login(client, other["openid"]), "Idempotency-Key": "k-3"})
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "invalid_reason"
    detail = admin.get(f"/console/interviews/{other['interview_ids'][0]}").get_data(as_text=True)
    assert 'value="position_filled"' in detail and 'value="position_paused"' not in detail
    # the old cancellation still shows its label
    body = client.get(f"{API}/interviews/{iv}", headers=headers).get_json()
    assert "个人原因" in str(body["timeline"])
    with app.app_context():
        c = db.session.scalars(select(Cancellation).join(Interview).where(
            Interview.public_id == iv)).one()
        assert c.reason.label == "个人原因" and c.reason.active is False
    assert [d for _, _, d in _audit(app, "settings.reason_retired")][0] == {
        "code": "personal", "before": {"active": True}, "after": {"active": False}}
    page = admin.get(PAGE).get_data(as_text=True)
    assert re.search(r'data-code="personal" class="retired"', page)

    assert _post(admin, f"{PAGE}/{personal.id}/reactivate", {}).status_code == 302
    assert "personal" in _picker(client, openid)
    assert [d for _, _, d in _audit(app, "settings.reason_reactivated")] == [
        {"code": "personal", "before": {"active": False}, "after": {"active": True}}]


BAD = [
    ({"code": "Family-Emergency"}, "code", "code_invalid", "原因代码只能由小写英文字母"),
    ({"code": "时间"}, "code", "code_invalid", "原因代码只能由小写英文字母"),
    ({"code": ""}, "code", "field_required", "请填写原因代码"),
    ({"code": "time_conflict"}, "code", "reason_code_taken", "该原因代码已存在"),
    ({"label": "  "}, "label", "field_required", "请填写原因名称"),
    ({"label": "长" * 41}, "label", "field_too_long", "原因名称最多40个字"),
    ({"category": "nope"}, "category", "field_invalid", "请选择原因类别"),
    ({"actor": "system"}, "actor", "field_invalid", "适用方只能是候选人或公司"),
    ({"note_max_length": "5"}, "note_max_length", "field_out_of_range", "说明最多字数必须是"),
    ({"sort_order": "abc"}, "sort_order", "field_out_of_range", "排序必须是"),
]


@pytest.mark.parametrize("change, field, code, message", BAD)
def test_bad_input_is_refused_beside_its_field_and_adds_nothing(app, demo, change, field,
                                                                code, message):
    admin = _admin(app)
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(CancelReason))
    response = _post(admin, PAGE, {**NEW, **change})
    assert response.status_code in (409, 422)
    html = response.get_data(as_text=True)
    error = re.search(rf'<p class="field-error" id="{field}-error" data-code="([a-z_]+)"'
                      rf'[^>]*>([^<]+)</p>', html)
    assert error, html
    assert error.group(1) == code and message in error.group(2)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CancelReason)) == before
        assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action.like("settings.%"))) == 0


def test_bad_edit_changes_nothing(app, demo):
    admin = _admin(app)
    reason = _reason(app, "other")
    response = _post(admin, f"{PAGE}/{reason.id}", {
        "label": "", "category": "candidate_initiated", "actor": "candidate",
        "note_max_length": "2000", "sort_order": "1"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="label-error" data-code="field_required"' in html
    assert 'id="note_max_length-error" data-code="field_out_of_range"' in html
    after = _reason(app, "other")
    assert (after.label, after.note_max_length) == (reason.label, reason.note_max_length)
    assert _audit(app, "settings.reason_updated") == []


def test_the_system_reason_cannot_be_retired(app, demo):
    from app.services.cancellation import system

    with app.app_context():
        system_reason_id = system.unconfirmed_reason().id
    admin = _admin(app)
    response = _post(admin, f"{PAGE}/{system_reason_id}/retire", {})
    assert response.status_code == 302
    assert "不能停用" in admin.get(PAGE).get_data(as_text=True)
    assert _reason(app, "unconfirmed_timeout").active is True


@pytest.mark.parametrize("username", ["manager", "specialist", "interviewer"])
def test_only_admins_may_change_reasons(app, demo, username):
    user = console_client(app, username)
    reason = _reason(app, "personal")
    assert user.get(PAGE).status_code == 403
    assert user.get(f"{PAGE}/{reason.id}").status_code == 403
    token = csrf_token(user, "/console/interviews")
    for path, data in [(PAGE, NEW), (f"{PAGE}/{reason.id}", {**NEW, "label": "改名"}),
                       (f"{PAGE}/{reason.id}/retire", {})]:
        assert user.post(path, data={"csrf_token": token, **data}).status_code == 403
    after = _reason(app, "personal")
    assert (after.label, after.active) == ("个人原因", True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CancelReason).where(
            CancelReason.code == "family_emergency")) == 0
        assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action.like("settings.%"))) == 0
    # and the service itself refuses, whoever calls it
    with app.app_context():
        actor = Actor.hr(db.session.get(HrUser, demo["hr_users"]["recruiting_manager"]["id"]))
        with pytest.raises(Forbidden):
            service.create_reason(actor, code="x_y", **{k: v for k, v in NEW.items()
                                                         if k != "code"})

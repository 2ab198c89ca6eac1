"""Settings: rules. An admin changes every rule on one form and each position's own rules;
each change takes effect at once (the candidate's cancel decision, the approval levels,
the worker's auto-cancel, the confirmation deadline), in every process, is audited with
before and after; bad values get a Chinese error beside their field and change nothing;
only admins may change rules."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app.core.timeutil import SHANGHAI, utcnow
from app.extensions import db
from app.models import (
    Approval,
    AuditEntry,
    Cancellation,
    Interview,
    InterviewStatus,
    Position,
    Setting,
)
from app.services.cancellation import system
from app.services.rules import confirm_by_for, get_rules
from tests.factories import API, console_client, csrf_token, mp_login

PAGE = "/console/settings/rules"

FORM = {"cancel_deadline_hours": "2", "after_deadline": "refuse", "note_max_length": "200",
        "hr_contact": "请联系招聘HR", "confirm_window_hours": "24", "reminder_lead_hours": "12",
        "auto_cancel_unconfirmed_hours": "24", "reschedule_window_working_days": "3",
        "notify_promise_minutes": "60", "cancel_rate_alert_percent": "20"}


def _save(client, **changes):
    data = {"csrf_token": csrf_token(client, PAGE), **FORM, **changes}
    return client.post(PAGE, data=data)


def _candidate_on(app, demo, title):
    """A demo candidate whose interview is for the position `title`, with its position id."""
    with app.app_context():
        for c in demo["candidates"]:
            iv = db.session.scalars(select(Interview).where(
                Interview.public_id == c["interview_ids"][0])).one()
            if iv.position.title == title:
                return c, iv.position_id
    raise AssertionError(f"no demo candidate on {title}")


def _cancel(client, candidate, key, reason="personal", note=None):
    body = {"reason_code": reason, **({"note": note} if note else {})}
    return client.post(f"{API}/interviews/{candidate['interview_ids'][0]}/cancel", json=body,
                       headers={**mp_login(client, candidate["openid"]), "Idempotency-Key": key})


def _audits(app, action="settings.rules_changed"):
    with app.app_context():
        return [e.data for e in db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))]


def test_the_page_shows_every_rule_in_force(app, demo):
    html = console_client(app, "admin").get(PAGE).get_data(as_text=True)
    for name, value in FORM.items():
        if name != "after_deadline":
            assert re.search(rf'name="{name}" value="{re.escape(value)}"', html), name
    assert 'value="refuse" checked' in html
    for level in ("P5", "P6", "P8", "S3"):
        assert f'name="second_approval_levels" value="{level}"' in html
    assert "Java后端开发工程师" in html and "高级技术经理" in html


def test_the_cancel_deadline_and_after_deadline_behaviour_apply_at_once(app, demo, client):
    admin = console_client(app, "admin")
    candidate, _ = _candidate_on(app, demo, "Java后端开发工程师")
    # interviews start tomorrow or later: with a deadline of a week before, it has passed
    assert _save(admin, cancel_deadline_hours="168", hr_contact="请致电 010-12345678"
                 ).status_code == 302
    listed = client.get(f"{API}/interviews", headers=mp_login(client, candidate["openid"])
                        ).get_json()["items"][0]
    assert listed["can_cancel"] is False
    refused = _cancel(client, candidate, "k-1")
    assert refused.status_code == 409
    error = refused.get_json()["error"]
    assert error["code"] == "cancel_deadline_passed" and "010-12345678" in error["message"]
    # after the deadline, requests go to HR instead
    assert _save(admin, cancel_deadline_hours="168", after_deadline="request").status_code == 302
    requested = _cancel(client, candidate, "k-2")
    assert requested.status_code == 200 and requested.get_json()["status"] == "cancel_pending"
    first, second = _audits(app)
    assert first == {"before": {"cancel_deadline_hours": 2, "hr_contact": "请联系招聘HR"},
                     "after": {"cancel_deadline_hours": 168, "hr_contact": "请致电 010-12345678"}}
    assert second == {"before": {"after_deadline": "refuse", "hr_contact": "请致电 010-12345678"},
                      "after": {"after_deadline": "request", "hr_contact": "请联系招聘HR"}}
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "settings.rules_changed")).first()
        assert entry.actor_type == "hr" and entry.actor_id == demo["hr_users"]["admin"]["id"]


def test_review_per_position_and_second_approval_by_level(app, demo, client):
    admin = console_client(app, "admin")
    candidate, position_id = _candidate_on(app, demo, "Java后端开发工程师")
    token = csrf_token(admin, PAGE)
    saved = admin.post(f"{PAGE}/positions/{position_id}",
                       data={"csrf_token": token, "cancel_requires_review": "y",
                             "auto_cancel_unconfirmed_hours": ""})
    assert saved.status_code == 302
    assert _save(admin, second_approval_levels=["P5", "P8"]).status_code == 302
    assert get_rules_levels(app) == ("P5", "P8")
    response = _cancel(client, candidate, "k-3")
    assert response.status_code == 200 and response.get_json()["status"] == "cancel_pending"
    with app.app_context():
        cancellation = db.session.scalars(select(Cancellation)).one()
        levels = db.session.scalars(select(Approval.level).where(
            Approval.cancellation_id == cancellation.id).order_by(Approval.level)).all()
        assert levels == [1, 2]
    [position_change] = _audits(app, "settings.position_rules_changed")
    assert position_change["before"] == {"cancel_requires_review": False}
    assert position_change["after"] == {"cancel_requires_review": True}
    assert _audits(app)[0] == {"before": {"second_approval_levels": []},
                               "after": {"second_approval_levels": ["P5", "P8"]}}


def get_rules_levels(app):
    with app.app_context():
        return get_rules().second_approval_levels


def test_one_level_without_the_rule(app, demo, client):
    admin = console_client(app, "admin")
    candidate, position_id = _candidate_on(app, demo, "Java后端开发工程师")
    admin.post(f"{PAGE}/positions/{position_id}",
               data={"csrf_token": csrf_token(admin, PAGE), "cancel_requires_review": "y"})
    assert _cancel(client, candidate, "k-4").get_json()["status"] == "cancel_pending"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Approval)) == 1


def test_a_position_override_of_the_auto_cancel_hours(app, demo):
    admin = console_client(app, "admin")
    with app.app_context():
        java = db.session.scalars(select(Position).where(
            Position.title == "Java后端开发工程师")).one().id
        ai = db.session.scalars(select(Position).where(Position.title == "AI算法工程师")).one().id
        db.session.execute(update(Interview).values(
            confirm_by=None, created_at=utcnow() - timedelta(hours=3)))
        db.session.commit()
        on_java = db.session.scalars(select(Interview.id).where(
            Interview.position_id == java)).all()
    response = admin.post(f"{PAGE}/positions/{java}", data={
        "csrf_token": csrf_token(admin, PAGE), "auto_cancel_unconfirmed_hours": "2"})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Position, java).auto_cancel_unconfirmed_hours == 2
        assert db.session.get(Position, ai).auto_cancel_unconfirmed_hours is None
        # invited 3 h ago: past Java's 2 h, not the company's 24 h
        assert system.auto_cancel_unconfirmed() == len(on_java) > 0
        cancelled = set(db.session.scalars(select(Interview.id).where(
            Interview.status == InterviewStatus.CANCELLED)))
        assert cancelled == set(on_java)
    [data] = _audits(app, "settings.position_rules_changed")
    assert data["before"] == {"auto_cancel_unconfirmed_hours": None}
    assert data["after"] == {"auto_cancel_unconfirmed_hours": 2}


def test_confirmation_window_and_reminder_lead(app, demo):
    admin = console_client(app, "admin")
    start = utcnow() + timedelta(days=5)
    with app.app_context():
        assert confirm_by_for(start, utcnow()) == start - timedelta(hours=24)
    assert _save(admin, confirm_window_hours="48", reminder_lead_hours="6").status_code == 302
    with app.app_context():
        rules = get_rules()
        assert (rules.confirm_window_hours, rules.reminder_lead_hours) == (48, 6)
        assert confirm_by_for(start, utcnow()) == start - timedelta(hours=48)
        # invited later than the window allows: half the time left, never already past
        now = utcnow()
        soon = now + timedelta(hours=10)
        assert confirm_by_for(soon, now) == now + timedelta(hours=5)


def test_a_change_in_one_process_is_seen_by_another_at_once(app, make_app, served_app):
    # a second app (another process) on the same database, speaking to the same sandbox
    other = make_app(WECHAT_API_BASE=app.config["WECHAT_API_BASE"],
                     PUBLIC_BASE_URL=app.config["PUBLIC_BASE_URL"])
    summary = served_app.demo()
    admin = console_client(app, "admin")
    with other.app_context():
        assert get_rules().cancel_deadline_hours == 2
    assert _save(admin, cancel_deadline_hours="168").status_code == 302
    with other.app_context():
        assert get_rules().cancel_deadline_hours == 168
    candidate = summary["candidates"][0]
    client = other.test_client()
    item = client.get(f"{API}/interviews", headers=mp_login(client, candidate["openid"])
                      ).get_json()["items"][0]
    assert item["can_cancel"] is False


BAD = [
    ({"cancel_deadline_hours": "abc"}, "cancel_deadline_hours", "field_out_of_range",
     "候选人自助取消截止（面试前小时数）必须是 0 到 168 之间的整数"),
    ({"cancel_deadline_hours": "169"}, "cancel_deadline_hours", "field_out_of_range", "0 到 168"),
    ({"after_deadline": "maybe"}, "after_deadline", "field_invalid", "只能是"),
    ({"hr_contact": "  "}, "hr_contact", "field_invalid", "HR联系方式须为 1 到 100 个字"),
    ({"hr_contact": "长" * 101}, "hr_contact", "field_invalid", "1 到 100"),
    ({"confirm_window_hours": "0"}, "confirm_window_hours", "field_out_of_range", "1 到 168"),
    ({"reminder_lead_hours": "-1"}, "reminder_lead_hours", "field_out_of_range", "1 到 72"),
    ({"auto_cancel_unconfirmed_hours": "1.5"}, "auto_cancel_unconfirmed_hours",
     "field_out_of_range", "整数"),
    ({"reschedule_window_working_days": "31"}, "reschedule_window_working_days",
     "field_out_of_range", "1 到 30"),
    ({"notify_promise_minutes": "4"}, "notify_promise_minutes", "field_out_of_range", "5 到 1440"),
    ({"cancel_rate_alert_percent": "101"}, "cancel_rate_alert_percent", "field_out_of_range",
     "1 到 100"),
    ({"note_max_length": ""}, "note_max_length", "field_out_of_range", "10 到 1000"),
    ({"second_approval_levels": ["x" * 33]}, "second_approval_levels", "field_invalid",
     "1 到 32 个字符"),
]


@pytest.mark.parametrize("change, field, code, message", BAD)
def test_a_bad_value_is_refused_beside_its_field_and_nothing_changes(app, demo, change, field,
                                                                     code, message):
    admin = console_client(app, "admin")
    # one good change in the same form: it is not saved either
    response = _save(admin, cancel_rate_alert_percent="30", **change) if \
        field != "cancel_rate_alert_percent" else _save(admin, hr_contact="改", **change)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = re.search(rf'id="{field}-error" data-code="([a-z_]+)"[^>]*>([^<]+)<', html)
    assert error, html
    assert error.group(1) == code and message in error.group(2)
    with app.app_context():
        assert db.session.get(Setting, "rules") is None
        assert get_rules().cancel_rate_alert_percent == 20
    assert _audits(app) == []


def test_every_bad_value_is_reported_at_once(app, demo):
    admin = console_client(app, "admin")
    html = _save(admin, cancel_deadline_hours="x", notify_promise_minutes="0").get_data(
        as_text=True)
    assert 'id="cancel_deadline_hours-error"' in html and 'id="notify_promise_minutes-error"' \
        in html


def test_a_bad_position_override_is_refused(app, demo):
    admin = console_client(app, "admin")
    _, position_id = _candidate_on(app, demo, "Java后端开发工程师")
    response = admin.post(f"{PAGE}/positions/{position_id}", data={
        "csrf_token": csrf_token(admin, PAGE), "cancel_requires_review": "y",
        "auto_cancel_unconfirmed_hours": "500"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r'id="auto_cancel_unconfirmed_hours-error" data-code="field_out_of_range"'
                     r'[^>]*>[^<]*1 到 168', html)
    with app.app_context():
        position = db.session.get(Position, position_id)
        assert (position.cancel_requires_review, position.auto_cancel_unconfirmed_hours) == \
            (False, None)
    assert _audits(app, "settings.position_rules_changed") == []


@pytest.mark.parametrize("username", ["manager", "specialist", "interviewer"])
def test_only_admins_may_change_rules(app, demo, username):
    user = console_client(app, username)
    _, position_id = _candidate_on(app, demo, "Java后端开发工程师")
    assert user.get(PAGE).status_code == 403
    token = csrf_token(user, "/console/interviews")
    assert user.post(PAGE, data={"csrf_token": token, **FORM, "cancel_deadline_hours": "100"}
                     ).status_code == 403
    assert user.post(f"{PAGE}/positions/{position_id}", data={
        "csrf_token": token, "cancel_requires_review": "y"}).status_code == 403
    with app.app_context():
        assert db.session.get(Setting, "rules") is None
        assert db.session.get(Position, position_id).cancel_requires_review is False
        assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action.like("settings.%"))) == 0


def test_an_interview_coming_in_without_a_deadline_gets_the_confirmation_window(app, demo):
    """Imports and the integration API give new interviews confirm_by from the rule; an
    update that leaves it out keeps the deadline given."""
    from app.models import HrUser
    from app.services.integration import upsert
    from app.services.users.actor import Actor

    admin = console_client(app, "admin")
    assert _save(admin, confirm_window_hours="36").status_code == 302
    scheduled = (utcnow() + timedelta(days=6)).astimezone(SHANGHAI).replace(microsecond=0,
                                                                            second=0)
    with app.app_context():
        actor = Actor.hr(db.session.get(HrUser, demo["hr_users"]["admin"]["id"]))
        for kind, data in (("position", {"external_id": "P-9", "title": "测试岗位",
                                         "department": "技术部", "level": "P5"}),
                           ("candidate", {"external_id": "C-9", "name": "李四",
                                          "phone": "13900139000"})):
            getattr(upsert, f"upsert_{kind}")(data, actor=actor)
        interview = {"external_id": "I-9", "candidate_external_id": "C-9",
                     "position_external_id": "P-9", "scheduled_at": scheduled.isoformat()}
        result = upsert.upsert_interview(interview, actor=actor)
        db.session.commit()
        assert result.obj.confirm_by == scheduled - timedelta(hours=36)
        again = upsert.upsert_interview(interview, actor=actor)
        db.session.commit()
        assert again.obj.confirm_by == scheduled - timedelta(hours=36)
        assert not again.changed  # the same data again: nothing to update

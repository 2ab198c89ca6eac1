"""Settings: the working-day calendar. An admin lists a year's overrides, adds, edits and
removes a day as a working day or a holiday with a note; the rescheduling deadline HR
promises follows the overrides at once; a year chinese-calendar has no data for (2027)
warns that HR must enter its holidays; every change is audited with before and after; bad
input gets a Chinese error beside its field and changes nothing; admins only."""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

import chinese_calendar
import pytest
from sqlalchemy import func, select

from app.core.timeutil import SHANGHAI, utcnow
from app.extensions import db
from app.models import AuditEntry, Cancellation, Interview, WorkdayOverride
from app.services.cancellation.commands import reschedule_deadline
from app.services.rules import get_rules
from app.services.rules.calendar import add_working_days
from tests.factories import console_client, csrf_token

PAGE = "/console/settings/calendar"


def _statutory(day: date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return day.weekday() < 5


def _nth_working_day(start: date, n: int, holidays=()) -> date:
    """Counted by hand: the statutory calendar (weekdays where it has no data), less
    `holidays`."""
    day = start
    while n:
        day += timedelta(days=1)
        if _statutory(day) and day not in holidays:
            n -= 1
    return day


def _post(client, path, data, page=PAGE):
    return client.post(path, data={"csrf_token": csrf_token(client, page), **data})


def _audits(app, action):
    with app.app_context():
        return [(e.actor_id, e.data) for e in db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))]


def test_a_year_without_statutory_data_warns_hr(app, demo):
    admin = console_client(app, "admin")
    html = admin.get(f"{PAGE}?year=2027").get_data(as_text=True)
    assert 'id="no-data-warning"' in html and "2027年尚无法定节假日数据" in html
    assert 'id="no-data-warning"' not in admin.get(f"{PAGE}?year=2026").get_data(as_text=True)


def test_add_edit_and_remove_a_day_audited_with_before_and_after(app, demo):
    admin = console_client(app, "admin")
    admin_id = demo["hr_users"]["admin"]["id"]
    assert _post(admin, PAGE, {"day": "2027-01-01", "kind": "holiday", "note": "元旦"}
                 ).status_code == 302
    assert _post(admin, PAGE, {"day": "2027-02-06", "kind": "workday", "note": "春节调休"}
                 ).status_code == 302
    html = admin.get(f"{PAGE}?year=2027").get_data(as_text=True)
    rows = re.findall(r'<tr data-day="([\d-]+)">', html)
    assert rows == ["2027-01-01", "2027-02-06"]
    assert "元旦" in html and "春节调休" in html
    assert re.findall(r'<tr data-day="', admin.get(f"{PAGE}?year=2026").get_data(as_text=True)) \
        == []
    # edit: the form comes filled in; saving replaces the day's setting
    edit = admin.get(f"{PAGE}?year=2027&edit=2027-02-06").get_data(as_text=True)
    assert 'value="2027-02-06"' in edit and 'value="workday" checked' in edit
    assert _post(admin, PAGE, {"day": "2027-02-06", "kind": "holiday", "note": "改为休息"}
                 ).status_code == 302
    with app.app_context():
        row = db.session.get(WorkdayOverride, date(2027, 2, 6))
        assert (row.is_workday, row.note) == (False, "改为休息")
    # remove: the day follows the statutory calendar (here Monday-Friday) again
    assert _post(admin, f"{PAGE}/2027-02-06/delete", {}).status_code == 302
    with app.app_context():
        assert db.session.get(WorkdayOverride, date(2027, 2, 6)) is None
        assert db.session.scalar(select(func.count()).select_from(WorkdayOverride)) == 1

    sets = _audits(app, "calendar.override_set")
    assert [(a, d["day"], d["before"], d["after"]) for a, d in sets] == [
        (admin_id, "2027-01-01", {"override": False, "is_workday": True, "note": None},
         {"override": True, "is_workday": False, "note": "元旦"}),
        (admin_id, "2027-02-06", {"override": False, "is_workday": False, "note": None},
         {"override": True, "is_workday": True, "note": "春节调休"}),
        (admin_id, "2027-02-06", {"override": True, "is_workday": True, "note": "春节调休"},
         {"override": True, "is_workday": False, "note": "改为休息"}),
    ]
    [(actor, removed)] = _audits(app, "calendar.override_removed")
    assert actor == admin_id and removed == {
        "day": "2027-02-06", "before": {"override": True, "is_workday": False, "note": "改为休息"},
        "after": {"override": False, "is_workday": False, "note": None}}


def test_the_rescheduling_deadline_follows_the_overrides(app, demo):
    admin = console_client(app, "admin")
    now = utcnow()
    today = now.astimezone(SHANGHAI).date()
    with app.app_context():
        window = get_rules().reschedule_window_working_days
        before = reschedule_deadline(now, get_rules())
    assert before.date() == _nth_working_day(today, window)
    # HR makes the next working day a company holiday
    holiday = _nth_working_day(today, 1)
    assert _post(admin, PAGE, {"day": holiday.isoformat(), "kind": "holiday",
                               "note": "公司活动"}).status_code == 302
    expected = _nth_working_day(today, window, holidays={holiday})
    assert expected > before.date()
    with app.app_context():
        assert add_working_days(today, window) == expected
        assert reschedule_deadline(now, get_rules()) == datetime.combine(
            expected, time(23, 59, 59), SHANGHAI)
    page = admin.get(f"{PAGE}?year={today.year}").get_data(as_text=True)
    assert expected.isoformat() in page
    # and the promise HR makes when cancelling with 为候选人重新安排 uses it
    public_id = demo["candidates"][0]["interview_ids"][0]
    response = _post(admin, f"/console/interviews/{public_id}/cancel",
                     {"reason_code": "position_paused", "reschedule": "y",
                      "notify": "candidate"}, page=f"/console/interviews/{public_id}")
    assert response.status_code == 302
    with app.app_context():
        c = db.session.scalars(select(Cancellation).join(Interview).where(
            Interview.public_id == public_id)).one()
        assert c.reschedule_by.astimezone(SHANGHAI).date() == expected


BAD = [
    ({"day": ""}, "day", "field_invalid", "请选择日期"),
    ({"day": "2027-02-30"}, "day", "field_invalid", "请选择日期"),
    ({"day": "1999-01-01"}, "day", "field_out_of_range", "年份须在 2004 到 2100 之间"),
    ({"kind": "maybe"}, "kind", "field_required", "请选择工作日或休息日"),
    ({"note": "长" * 101}, "note", "field_too_long", "备注最多100个字"),
]


@pytest.mark.parametrize("change, field, code, message", BAD)
def test_bad_input_is_refused_beside_its_field(app, demo, change, field, code, message):
    admin = console_client(app, "admin")
    response = _post(admin, PAGE, {"day": "2027-01-01", "kind": "holiday", "note": "元旦",
                                   **change})
    assert response.status_code == 422
    error = re.search(rf'id="{field}-error" data-code="([a-z_]+)"[^>]*>([^<]+)<',
                      response.get_data(as_text=True))
    assert error and error.group(1) == code and message in error.group(2)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(WorkdayOverride)) == 0
    assert _audits(app, "calendar.override_set") == []


@pytest.mark.parametrize("username", ["manager", "specialist", "interviewer"])
def test_only_admins_may_change_the_calendar(app, demo, username):
    with app.app_context():
        db.session.add(WorkdayOverride(day=date(2027, 1, 1), is_workday=False, note="元旦"))
        db.session.commit()
    user = console_client(app, username)
    assert user.get(PAGE).status_code == 403
    token = csrf_token(user, "/console/interviews")
    assert user.post(PAGE, data={"csrf_token": token, "day": "2027-01-04",
                                 "kind": "holiday"}).status_code == 403
    assert user.post(f"{PAGE}/2027-01-01/delete", data={"csrf_token": token}
                     ).status_code == 403
    with app.app_context():
        assert [r.day for r in db.session.scalars(select(WorkdayOverride))] == [date(2027, 1, 1)]
        assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action.like("calendar.%"))) == 0

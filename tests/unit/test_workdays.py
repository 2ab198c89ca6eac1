"""The working-day calendar: HR overrides, then chinese-calendar, then Monday-Friday."""
import logging
from datetime import date

import pytest
from sqlalchemy import event, select

from app.core.errors import ValidationFailed
from app.extensions import db
from app.models import AuditEntry, WorkdayOverride
from app.services.rules import calendar as workdays
from app.services.rules.calendar import add_working_days, is_workday, working_days_between


def test_national_day_holiday_is_not_a_workday(app):
    with app.app_context():
        assert not is_workday(date(2026, 10, 1))   # Thursday, 国庆节
        assert not is_workday(date(2026, 10, 7))   # Wednesday, last day of the holiday
        assert is_workday(date(2026, 10, 8))


@pytest.mark.parametrize("day", [date(2026, 9, 20), date(2026, 10, 10)])
def test_adjusted_working_weekend_is_a_workday(app, day):
    assert day.weekday() >= 5  # Sunday 9-20 and Saturday 10-10 make up for 国庆节
    with app.app_context():
        assert is_workday(day)


def test_ordinary_weekend_is_not_a_workday(app):
    with app.app_context():
        assert not is_workday(date(2026, 9, 26))  # Saturday


def test_override_beats_the_statutory_calendar_and_is_audited(app):
    with app.app_context():
        workdays.set_override(date(2026, 10, 1), True, "公司值班", actor_id=7)
        workdays.set_override(date(2026, 9, 28), False, " 公司年会 ", actor_id=7)
        assert is_workday(date(2026, 10, 1))
        assert not is_workday(date(2026, 9, 28))  # a Monday

        row = workdays.set_override(date(2026, 10, 1), False, None, actor_id=8)
        assert row.is_workday is False and row.note is None
        assert not is_workday(date(2026, 10, 1))

        notes = db.session.scalars(select(WorkdayOverride.note).order_by(WorkdayOverride.day))
        assert notes.all() == ["公司年会", None]
        entries = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "calendar.override_set").order_by(AuditEntry.id)).all()
        assert [(e.actor_id, e.data["day"], e.data["from"], e.data["to"]) for e in entries] == [
            (7, "2026-10-01", False, True), (7, "2026-09-28", True, False),
            (8, "2026-10-01", True, False)]


def test_override_note_length_is_checked(app):
    with app.app_context():
        with pytest.raises(ValidationFailed) as exc:
            workdays.set_override(date(2026, 10, 1), True, "长" * 101, actor_id=1)
        assert exc.value.details["field"] == "note"
        assert db.session.scalar(select(WorkdayOverride)) is None


def test_year_without_library_data_uses_overrides_then_weekdays(app, monkeypatch, caplog):
    monkeypatch.setattr(workdays, "_warned_years", set())
    with app.app_context():
        with caplog.at_level(logging.WARNING, logger=workdays.__name__):
            assert is_workday(date(2027, 1, 1))       # Friday: no data, weekday fallback
            assert not is_workday(date(2027, 1, 2))   # Saturday
            assert is_workday(date(2027, 1, 4))
        warnings = [r for r in caplog.records if "2027" in r.getMessage()]
        assert len(warnings) == 1                      # once per year, not once per day

        workdays.set_override(date(2027, 1, 1), False, "元旦", actor_id=1)
        workdays.set_override(date(2027, 1, 2), True, None, actor_id=1)
        assert not is_workday(date(2027, 1, 1))
        assert is_workday(date(2027, 1, 2))


def test_add_working_days_skips_the_holiday(app):
    with app.app_context():
        assert add_working_days(date(2026, 9, 30), 0) == date(2026, 9, 30)
        assert add_working_days(date(2026, 9, 30), 1) == date(2026, 10, 8)
        assert add_working_days(date(2026, 9, 29), 3) == date(2026, 10, 9)
        # From a holiday: the adjusted Saturday 10-10 counts.
        assert add_working_days(date(2026, 10, 3), 4) == date(2026, 10, 12)
        assert working_days_between(date(2026, 9, 29), date(2026, 10, 9)) == 3
        assert working_days_between(date(2026, 10, 9), date(2026, 9, 29)) == 0
        with pytest.raises(ValueError):
            add_working_days(date(2026, 9, 30), -1)


def test_add_working_days_across_the_year_end_follows_overrides(app):
    with app.app_context():
        # 2026-12-31 is a Thursday; 2027 has no library data.
        assert add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 1)
        workdays.set_override(date(2027, 1, 1), False, "元旦", actor_id=1)
        assert add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 4)
        assert working_days_between(date(2026, 12, 30), date(2027, 1, 4)) == 2


def test_one_override_query_for_a_range(app):
    with app.app_context():
        statements = []

        def count(conn, cursor, statement, *args):
            if "workday_overrides" in statement:
                statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            assert add_working_days(date(2026, 9, 29), 20) == date(2026, 11, 2)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert len(statements) == 1

"""The Chinese working-day calendar: HR overrides, then the statutory calendar
(chinese-calendar, with adjusted working weekends), then Monday-Friday for years the
library has no data for."""
from __future__ import annotations

import logging
from datetime import date, timedelta

import chinese_calendar
from sqlalchemy import select

from app.core.errors import ValidationFailed
from app.core.timeutil import SHANGHAI, utcnow
from app.extensions import db
from app.models import WorkdayOverride
from app.services import audit

log = logging.getLogger(__name__)

# How many days of overrides one query loads when the range is open-ended.
CHUNK_DAYS = 62
NOTE_MAX_LENGTH = 100

# Years already warned about in this process; only throttles a log line, so per-process
# memory is fine (each process warns once).
_warned_years: set[int] = set()


def today() -> date:
    """Today in Asia/Shanghai."""
    return utcnow().astimezone(SHANGHAI).date()


def statutory_is_workday(day: date) -> bool:
    """The State Council calendar, or Monday-Friday where the library has no data."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        if day.year not in _warned_years:
            _warned_years.add(day.year)
            log.warning("chinese-calendar has no data for %s: using Monday-Friday unless "
                        "HR sets workday overrides", day.year)
        return day.weekday() < 5


class WorkdayCalendar:
    """Answers is_workday for many days with one override query per range loaded."""

    def __init__(self) -> None:
        self._overrides: dict[date, bool] = {}
        self._loaded: list[tuple[date, date]] = []

    def load(self, start: date, end: date) -> None:
        """Load the overrides for [start, end] in one query (if not loaded yet)."""
        if any(lo <= start and end <= hi for lo, hi in self._loaded):
            return
        rows = db.session.execute(
            select(WorkdayOverride.day, WorkdayOverride.is_workday)
            .where(WorkdayOverride.day >= start, WorkdayOverride.day <= end)).all()
        self._overrides.update({day: flag for day, flag in rows})
        self._loaded.append((start, end))

    def _ensure(self, day: date) -> None:
        if not any(lo <= day <= hi for lo, hi in self._loaded):
            self.load(day, day + timedelta(days=CHUNK_DAYS - 1))

    def is_workday(self, day: date) -> bool:
        self._ensure(day)
        if day in self._overrides:
            return self._overrides[day]
        return statutory_is_workday(day)

    def add_working_days(self, start: date, n: int) -> date:
        if n < 0:
            raise ValueError("n must not be negative")
        day = start
        while n > 0:
            day += timedelta(days=1)
            if self.is_workday(day):
                n -= 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        if end <= start:
            return 0
        self.load(start + timedelta(days=1), end)
        return sum(1 for k in range(1, (end - start).days + 1)
                   if self.is_workday(start + timedelta(days=k)))


def is_workday(day: date) -> bool:
    """A working day: HR override, else the statutory calendar, else Monday-Friday."""
    return WorkdayCalendar().is_workday(day)


def add_working_days(start: date, n: int) -> date:
    """The n-th working day after `start` (`start` itself when n == 0)."""
    return WorkdayCalendar().add_working_days(start, n)


def working_days_between(start: date, end: date) -> int:
    """Working days d with start < d <= end, so that
    working_days_between(s, add_working_days(s, n)) == n."""
    return WorkdayCalendar().working_days_between(start, end)


def set_override(day: date, is_workday: bool, note: str | None, actor_id: int
                 ) -> WorkdayOverride:
    """HR sets whether a day is a working day; it wins over the statutory calendar."""
    note = (note or "").strip() or None
    if note and len(note) > NOTE_MAX_LENGTH:
        raise ValidationFailed(f"备注最多{NOTE_MAX_LENGTH}个字", code="field_too_long",
                               details={"field": "note", "max_length": NOTE_MAX_LENGTH})
    try:
        row = db.session.get(WorkdayOverride, day, with_for_update=True)
        before = (row.is_workday if row is not None
                  else statutory_is_workday(day))
        if row is None:
            row = WorkdayOverride(day=day)
            db.session.add(row)
        row.is_workday = bool(is_workday)
        row.note = note
        audit.record(actor_type="hr", actor_id=actor_id, action="calendar.override_set",
                     object_type="workday", object_id=None,
                     data={"day": day.isoformat(), "from": before, "to": row.is_workday,
                           "note": note})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return row

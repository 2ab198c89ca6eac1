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
from app.services.rules.store import require_settings

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


def has_statutory_data(year: int) -> bool:
    """Whether chinese-calendar knows this year's holidays (else HR must enter them)."""
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def _clean_note(note: str | None) -> str | None:
    note = (note or "").strip() or None
    if note and len(note) > NOTE_MAX_LENGTH:
        raise ValidationFailed(f"备注最多{NOTE_MAX_LENGTH}个字", code="field_too_long",
                               details={"field": "note", "max_length": NOTE_MAX_LENGTH})
    return note


def _state(row: WorkdayOverride | None, day: date) -> dict:
    if row is None:
        return {"override": False, "is_workday": statutory_is_workday(day), "note": None}
    return {"override": True, "is_workday": row.is_workday, "note": row.note}


def set_override(day: date, is_workday: bool, note: str | None, actor_id: int | None, *,
                 ip: str | None = None) -> WorkdayOverride:
    """HR sets whether a day is a working day; it wins over the statutory calendar."""
    note = _clean_note(note)
    try:
        row = db.session.get(WorkdayOverride, day, with_for_update=True)
        before = _state(row, day)
        if row is None:
            row = WorkdayOverride(day=day)
            db.session.add(row)
        row.is_workday = bool(is_workday)
        row.note = note
        audit.record(actor_type="hr", actor_id=actor_id, action="calendar.override_set",
                     object_type="workday", object_id=None, ip=ip,
                     data={"day": day.isoformat(), "from": before["is_workday"],
                           "to": row.is_workday, "note": note,
                           "before": before, "after": _state(row, day)})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return row


def remove_override(day: date, actor_id: int | None, *, ip: str | None = None) -> bool:
    """HR removes an override: the day follows the statutory calendar again. Returns
    whether there was one."""
    try:
        row = db.session.get(WorkdayOverride, day, with_for_update=True)
        if row is None:
            db.session.rollback()
            return False
        before = _state(row, day)
        db.session.delete(row)
        audit.record(actor_type="hr", actor_id=actor_id, action="calendar.override_removed",
                     object_type="workday", object_id=None, ip=ip,
                     data={"day": day.isoformat(), "before": before,
                           "after": _state(None, day)})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return True


def list_overrides(year: int) -> list[WorkdayOverride]:
    """The overrides of one year, by day."""
    return list(db.session.scalars(
        select(WorkdayOverride).where(WorkdayOverride.day >= date(year, 1, 1),
                                      WorkdayOverride.day <= date(year, 12, 31))
        .order_by(WorkdayOverride.day)))


# --- the settings page (admins) ----------------------------------------------------------

YEAR_LIMITS = (2004, 2100)


def check_year(year: int) -> int:
    low, high = YEAR_LIMITS
    if not isinstance(year, int) or not low <= year <= high:
        raise ValidationFailed(f"年份须在 {low} 到 {high} 之间", code="field_out_of_range",
                               details={"field": "year"})
    return year


def save_day(actor, day: date, is_workday: bool, note: str | None, *,
             ip: str | None = None) -> WorkdayOverride:
    """An admin marks a day as a working day or a holiday (with a note)."""
    require_settings(actor)
    check_year(day.year)
    return set_override(day, is_workday, note, actor.id, ip=ip)


def remove_day(actor, day: date, *, ip: str | None = None) -> bool:
    """An admin removes a day's override."""
    require_settings(actor)
    return remove_override(day, actor.id, ip=ip)


def year_overrides(actor, year: int) -> list[WorkdayOverride]:
    """A year's overrides for the settings page (admins)."""
    require_settings(actor)
    return list_overrides(check_year(year))

"""The reports' filters: a period of Asia/Shanghai days, a department, a position."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.sql.util import find_tables

from app.core.timeutil import SHANGHAI
from app.models import Interview, Position
from app.services.users.actor import Actor, interview_scope

DEFAULT_DAYS = 30
MAX_DAYS = 366


@dataclass(frozen=True)
class ReportFilters:
    """From and to are inclusive local days."""

    date_from: date
    date_to: date
    department: str | None = None
    position_id: int | None = None

    @classmethod
    def last_days(cls, today: date, days: int = DEFAULT_DAYS, **kw) -> ReportFilters:
        return cls(today - timedelta(days=days - 1), today, **kw)

    @property
    def start(self) -> datetime:
        """The first instant of the period (aware)."""
        return datetime.combine(self.date_from, time(0), SHANGHAI)

    @property
    def end(self) -> datetime:
        """The first instant after the period (aware)."""
        return datetime.combine(self.date_to + timedelta(days=1), time(0), SHANGHAI)

    @property
    def days(self) -> list[date]:
        return [self.date_from + timedelta(days=n)
                for n in range((self.date_to - self.date_from).days + 1)]

    @property
    def weeks(self) -> list[date]:
        """Mondays of the ISO weeks the period touches."""
        monday = self.date_from - timedelta(days=self.date_from.weekday())
        return [monday + timedelta(weeks=n)
                for n in range((self.date_to - monday).days // 7 + 1)]

    def args(self) -> dict:
        """The query-string form (export links keep the page's filters)."""
        values = {"date_from": self.date_from.isoformat(), "date_to": self.date_to.isoformat(),
                  "department": self.department, "position_id": self.position_id}
        return {k: v for k, v in values.items() if v}

    def in_period(self, column) -> list:
        return [column >= self.start, column < self.end]

    def conditions(self, actor: Actor) -> list:
        """Scope and department / position (over Interview joined with Position)."""
        found = [interview_scope(actor)]
        if self.department:
            found.append(Position.department == self.department)
        if self.position_id:
            found.append(Interview.position_id == self.position_id)
        return found


def narrows(conditions: list) -> bool:
    """Whether the conditions (ReportFilters.conditions) select some interviews only (a
    department scope or filter, a position), not every one or none."""
    tables = {t for c in conditions for t in find_tables(c, check_columns=True)}
    return bool(tables & {Interview.__table__, Position.__table__})


def scoped(conditions: list, *, via) -> list:
    """The conditions over interviews and positions (scope, department, position) as one
    `via IN (SELECT interviews.id ...)`, `via` being the report table's interview id.

    A semi-join rather than joining every report row to its interview: the ids of a
    department's interviews come from an index-only scan (interviews (position_id, id)),
    where joins made PostgreSQL read the whole interviews table. Conditions that name no
    table (everything / nothing) stay as they are. A row without an interview (a staff
    summary) matches no IN: only those who see every department count it."""
    if not narrows(conditions):
        return conditions
    tables = {t for c in conditions for t in find_tables(c, check_columns=True)}
    ids = select(Interview.id)
    if Position.__table__ in tables:
        ids = ids.join(Position, Position.id == Interview.position_id)
    return [via.in_(ids.where(*conditions))]

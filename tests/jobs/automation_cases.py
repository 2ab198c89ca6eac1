"""Shared set-up of the automation tests (issue 11 §1-3): a team (recruiter, hiring
manager, interviewer, two recruiting managers of 技术部, one of another department, an
admin), interviews at fixed clocks, and readers of what the jobs queued.

The clocks the edges use: an ordinary working day, a day of the National Day holiday
(2026-10-01..07), and the year end into 2027, which chinese-calendar has no data for.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import func, select

from app.core.timeutil import SHANGHAI
from app.extensions import db
from app.models import (
    AuditEntry,
    CancellationState,
    Interview,
    OutboxMessage,
    ReasonActor,
    Role,
)
from tests import factories

# interview start times (Beijing) for the edges
STARTS = {
    "working_day": datetime(2026, 12, 9, 15, 0, tzinfo=SHANGHAI),
    "national_day_holiday": datetime(2026, 10, 3, 10, 0, tzinfo=SHANGHAI),
    "year_end_without_calendar_data": datetime(2027, 1, 1, 9, 0, tzinfo=SHANGHAI),
}


def team(app) -> SimpleNamespace:
    ids = SimpleNamespace(
        recruiter=factories.hr_user(app, "zhaopin"),
        hiring_manager=factories.hr_user(app, "yongren", display_name="李用人"),
        interviewer=factories.hr_user(app, "mianshi", role=Role.INTERVIEWER,
                                      display_name="赵面试"),
        manager=factories.hr_user(app, "jingli", role=Role.RECRUITING_MANAGER,
                                  display_name="钱经理"),
        manager2=factories.hr_user(app, "jingli2", role=Role.RECRUITING_MANAGER,
                                   display_name="孙经理", departments=("技术部", "市场部")),
        other_manager=factories.hr_user(app, "shichang", role=Role.RECRUITING_MANAGER,
                                        display_name="周经理", departments=("市场部",)),
        admin=factories.hr_user(app, "guanli", role=Role.ADMIN, display_name="吴管理",
                                departments=()),
    )
    return ids


def position(app, people, *, department="技术部", **fields) -> int:
    return factories.position(app, department=department, recruiter_id=people.recruiter,
                              hiring_manager_id=people.hiring_manager, **fields)


def interview(app, people, position_id: int, scheduled_at: datetime, number: str, **fields):
    return factories.interview(app, number, scheduled_at=scheduled_at,
                               position_id=position_id, interviewer_id=people.interviewer,
                               **fields)


def candidate_reason(app) -> str:
    factories.cancel_reason(app, "time_conflict", label="时间冲突", actor=ReasonActor.CANDIDATE)
    return "time_conflict"


def messages(app, interview_id: int | None = None, kind: str | None = None) -> list[tuple]:
    """(kind, recipient_type, recipient_id) of the queued rows, sorted."""
    with app.app_context():
        stmt = select(OutboxMessage.kind, OutboxMessage.recipient_type,
                      OutboxMessage.recipient_id)
        if interview_id is not None:
            stmt = stmt.where(OutboxMessage.interview_id == interview_id)
        if kind is not None:
            stmt = stmt.where(OutboxMessage.kind == kind)
        rows = sorted(tuple(r) for r in db.session.execute(stmt))
        db.session.remove()
        return rows


def audit_count(app, action: str) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == action))
        db.session.remove()
        return n


def status(app, interview_id: int):
    with app.app_context():
        found = db.session.get(Interview, interview_id, populate_existing=True).status
        db.session.remove()
        return found


def open_state(state) -> bool:
    return state in (CancellationState.REQUESTED, CancellationState.DETAIL_REQUESTED)


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)

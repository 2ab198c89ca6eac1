"""Bulk rows for batch tests: many interviews in one session, inserted set-based."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, select

from app.core.timeutil import utcnow
from app.extensions import db
from app.models import Candidate, HrUser, Interview, InterviewSession, Position


def add_interviews(count: int) -> int:
    """`count` scheduled interviews of a 技术部 position in a new session; its id."""
    manager = db.session.scalars(select(HrUser).where(HrUser.username == "manager")).one()
    position = Position(title="批量测试岗位", department="技术部", level="P5",
                        hiring_manager_id=manager.id)
    starts = utcnow() + timedelta(days=2)
    session = InterviewSession(position=position, starts_at=starts,
                               ends_at=starts + timedelta(hours=2), capacity=count,
                               booked=count)
    db.session.add(session)
    db.session.flush()
    now = utcnow()
    ids = db.session.execute(
        insert(Candidate).returning(Candidate.id, sort_by_parameter_order=True),
        [{"name": f"候选人{i}", "created_at": now, "updated_at": now}
         for i in range(count)]).scalars().all()
    db.session.execute(insert(Interview), [
        {"public_id": f"iv_bulk{session.id}_{i}", "number": f"AI-BULK-{session.id}-{i:05d}",
         "candidate_id": cid, "position_id": position.id, "session_id": session.id,
         "status": "scheduled", "scheduled_at": starts, "duration_minutes": 30, "version": 1,
         "created_at": now, "updated_at": now} for i, cid in enumerate(ids)])
    db.session.commit()
    return session.id

"""Candidates confirming they will attend."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm.exc import StaleDataError

from app.core.errors import Conflict
from app.core.timeutil import iso, utcnow
from app.extensions import db
from app.models import Interview, InterviewStatus
from app.queries.interviews.candidate import load_candidate_interview
from app.services import audit
from app.services.interviews.errors import AlreadyCancelled, CancelPending, InterviewStarted


class ConfirmDeadlinePassed(Conflict):
    code = "confirm_deadline_passed"
    message = "已超过确认截止时间，请联系招聘HR"


def confirm_attendance(*, candidate_id: int, interview_public_id: str,
                       now: datetime | None = None, ip: str | None = None) -> Interview:
    """Confirm until the confirm-by time; confirming twice is harmless."""
    now = now or utcnow()
    try:
        interview = load_candidate_interview(candidate_id, interview_public_id, lock=True)
        if interview.status == InterviewStatus.CONFIRMED:
            db.session.rollback()
            return interview
        if interview.status == InterviewStatus.CANCELLED:
            raise AlreadyCancelled()
        if interview.status == InterviewStatus.CANCEL_PENDING:
            raise CancelPending()
        if interview.status != InterviewStatus.SCHEDULED or now >= interview.scheduled_at:
            raise InterviewStarted("面试已开始或已结束，无需确认", code="not_confirmable")
        if interview.confirm_by is not None and now > interview.confirm_by:
            raise ConfirmDeadlinePassed(details={"confirm_by": iso(interview.confirm_by)})
        interview.confirm(now)
        audit.record(actor_type="candidate", actor_id=candidate_id, action="interview.confirmed",
                     object_type="interview", object_id=interview.id,
                     data={"number": interview.number,
                           "before": {"status": InterviewStatus.SCHEDULED.value},
                           "after": {"status": InterviewStatus.CONFIRMED.value}}, ip=ip)
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        return confirm_attendance(candidate_id=candidate_id,
                                  interview_public_id=interview_public_id, now=now, ip=ip)
    except Exception:
        db.session.rollback()
        raise
    return interview
